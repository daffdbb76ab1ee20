"""Risk alerts (办案风险实时提示): flagged to the command centre, never blocking.

- ``off_hours``: a batch submitted outside working hours, local time (GATEWAY_WORKING_HOURS,
  default 08:00-18:00; GATEWAY_WORKING_DAYS, default mon-fri; GATEWAY_TIMEZONE, default
  Asia/Shanghai). Public holidays are not known to the gateway.
- ``volume_spike``: an officer's subjects today pass both GATEWAY_VOLUME_ALERT_FLOOR and
  GATEWAY_VOLUME_ALERT_FACTOR x their daily average over the previous 30 days. Raised once a
  day, by the batch that crosses the line.
- ``cross_team_subject``: a subject asked for by at least GATEWAY_CROSS_TEAM_ALERT_TEAMS
  distinct teams within GATEWAY_CROSS_TEAM_ALERT_DAYS, raised when a further team joins them
  (a team asking again is no news).
- ``control_expiring``: a hold in effect whose last day is within GATEWAY_EXPIRY_WINDOW_DAYS
  (renew it before it lapses, or lose the court's place in line); raised once per expiry date.
- ``new_assets`` (新发现财产): a 终本 case's scheduled re-query found assets not known before.

Alerts are written in the submission transaction (a batch and its alerts exist together or not
at all) and hold no personal data: a subject is named only by its keyed digest. A list too
large to store its inquiries with it (``store.batches.QUEUE_CHUNK``) has its cross-team check
in the transaction that stores its first chunk of inquiries, just after the 202: the check
joins the list with every earlier subject, which took a fifth of a 100,000-subject list's
submission, and that transaction is as durable (the worker repeats it until it commits).
Checks take turns under one lock held to commit, and a list whose check is still to come is
not counted by others: each pair of lists is counted once, by whichever is checked second.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gateway.accountability.auth import Caller
from gateway.core.settings import Settings
from gateway.core.working_time import parse_days, parse_hours
from gateway.store import rules as store
from gateway.store.db import Connection, Record

OFF_HOURS = "off_hours"
VOLUME_SPIKE = "volume_spike"
CROSS_TEAM_SUBJECT = "cross_team_subject"
#: raised by the controls' calendar (gateway/accountability/calendar.py), not a submission
CONTROL_EXPIRING = "control_expiring"
NEW_ASSETS = "new_assets"
KINDS = (OFF_HOURS, VOLUME_SPIKE, CROSS_TEAM_SUBJECT, CONTROL_EXPIRING, NEW_ASSETS)

#: an officer's "usual" volume is their daily average over this many preceding days
BASELINE_DAYS = 30
#: a batch that reaches thousands of widely-asked subjects needs one look, not thousands
MAX_SUBJECT_ALERTS_PER_BATCH = 100


def zone(settings: Settings) -> ZoneInfo:
    """The courts' time zone (checked when the settings were read)."""
    return ZoneInfo(settings.timezone)


@dataclass(frozen=True, slots=True)
class WorkingTime:
    days: frozenset[int]  # Monday = 0
    start: time
    end: time
    tz: ZoneInfo

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkingTime | None:
        """None when the off-hours alert is switched off (empty GATEWAY_WORKING_HOURS)."""
        if not settings.working_hours.strip():
            return None
        start, end = parse_hours(settings.working_hours)
        return cls(parse_days(settings.working_days), start, end, zone(settings))

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(self.tz)
        return local.weekday() in self.days and self.start <= local.time() < self.end


async def raise_alerts(
    conn: Connection,
    settings: Settings,
    caller: Caller,
    batch_id: uuid.UUID,
    subjects: int,
    day_total: int,
    now: datetime,
    day: date,
    cross_team: bool = True,
) -> list[str]:
    """Write the alerts this submission calls for; returns their kinds (for the metrics).
    ``cross_team``: False when ``raise_cross_team_alerts`` runs later, with the inquiries."""
    assert caller.team_id is not None
    team_id = caller.team_id
    raised: list[str] = []

    async def alert(kind: str, detail: dict[str, Any], digest: bytes | None = None) -> None:
        await store.insert_alert(
            conn, now, kind, caller.officer_id, team_id, batch_id, digest, detail
        )
        raised.append(kind)

    hours = WorkingTime.from_settings(settings)
    if hours is not None and not hours.contains(now):
        local = now.astimezone(hours.tz)
        await alert(OFF_HOURS, {"local_time": local.isoformat(timespec="minutes")})

    if settings.volume_alert_factor > 0:
        start = day - timedelta(days=BASELINE_DAYS)
        history = await store.volume_between(conn, caller.officer_id, start, day)
        average = history / BASELINE_DAYS
        line = max(settings.volume_alert_floor, settings.volume_alert_factor * average)
        # Only the batch that crosses the line raises it, so the alert comes once a day.
        if day_total > line >= day_total - subjects:
            detail = {"today": day_total, "daily_average": round(average, 1), "line": line}
            await alert(VOLUME_SPIKE, detail)

    if cross_team:
        raised += await raise_cross_team_alerts(
            conn, settings, caller.officer_id, team_id, batch_id, now
        )
    return raised


async def raise_cross_team_alerts(
    conn: Connection,
    settings: Settings,
    officer_id: int,
    team_id: int,
    batch_id: uuid.UUID,
    now: datetime,
    submitted_at: datetime | None = None,
) -> list[str]:
    """Flag the batch's subjects that a further team joined in asking for; their kinds. The
    window ends at ``submitted_at`` (default: now), when the check comes later."""
    if settings.cross_team_alert_teams <= 0:
        return []
    since = (submitted_at or now) - timedelta(days=settings.cross_team_alert_days)
    rows = await store.cross_team_subjects(
        conn, batch_id, since, settings.cross_team_alert_teams, team_id
    )
    for row in rows[:MAX_SUBJECT_ALERTS_PER_BATCH]:
        detail = {
            "teams": row["teams"],
            "days": settings.cross_team_alert_days,
            "flagged_in_batch": len(rows),
        }
        await store.insert_alert(
            conn, now, CROSS_TEAM_SUBJECT, officer_id, team_id, batch_id,
            row["subject_digest"], detail,
        )  # fmt: skip
    return [CROSS_TEAM_SUBJECT] * min(len(rows), MAX_SUBJECT_ALERTS_PER_BATCH)


def first_chunk_alerts(
    settings: Settings,
) -> Callable[[Connection, Record, datetime], Awaitable[list[str]]]:
    """The cross-team check of a large list, for the worker to run with its first chunk of
    inquiries (``worker.upkeep.FirstChunkCheck``)."""

    async def check(conn: Connection, batch: Record, now: datetime) -> list[str]:
        raised = await raise_cross_team_alerts(
            conn,
            settings,
            batch["officer_id"],
            batch["team_id"],
            batch["id"],
            now,
            batch["created_at"],
        )
        await store.cross_team_checked(conn, batch["id"])
        return raised

    return check
