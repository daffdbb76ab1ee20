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

Alerts are written in the submission transaction (a batch and its alerts exist together or not
at all) and hold no personal data: a subject is named only by its keyed digest.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from gateway.auth import Caller
from gateway.errors import ConfigurationError
from gateway.queries import sql
from gateway.settings import Settings

OFF_HOURS = "off_hours"
VOLUME_SPIKE = "volume_spike"
CROSS_TEAM_SUBJECT = "cross_team_subject"
KINDS = (OFF_HOURS, VOLUME_SPIKE, CROSS_TEAM_SUBJECT)

#: an officer's "usual" volume is their daily average over this many preceding days
BASELINE_DAYS = 30
#: a batch that reaches thousands of widely-asked subjects needs one look, not thousands
MAX_SUBJECT_ALERTS_PER_BATCH = 100

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def zone(settings: Settings) -> ZoneInfo:
    try:
        return ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(f"GATEWAY_TIMEZONE {settings.timezone!r} is unknown") from exc


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
        match = _HOURS.match(settings.working_hours)
        if match is None:
            raise ConfigurationError("GATEWAY_WORKING_HOURS must look like 08:00-18:00")
        try:
            start = time(int(match[1]), int(match[2]))
            end = time(int(match[3]), int(match[4]))
        except ValueError as exc:
            raise ConfigurationError("GATEWAY_WORKING_HOURS holds an impossible time") from exc
        if start >= end:
            raise ConfigurationError("GATEWAY_WORKING_HOURS must start before it ends")
        return cls(_parse_days(settings.working_days), start, end, zone(settings))

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(self.tz)
        return local.weekday() in self.days and self.start <= local.time() < self.end


def _parse_days(text: str) -> frozenset[int]:
    """``mon-fri``, ``mon,wed,fri``, ``mon-thu,sat``: day names and ascending ranges."""
    days: set[int] = set()
    for part in text.lower().split(","):
        first, _, last = part.strip().partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise ConfigurationError("GATEWAY_WORKING_DAYS must look like mon-fri or mon,wed,fri")
        lo, hi = _DAYS.index(first), _DAYS.index(last or first)
        if hi < lo:
            raise ConfigurationError("GATEWAY_WORKING_DAYS ranges must run forwards (mon-fri)")
        days.update(range(lo, hi + 1))
    return frozenset(days)


def check_settings(settings: Settings) -> None:
    """Fail at start-up, not at the first submission, on a malformed setting."""
    zone(settings)
    WorkingTime.from_settings(settings)
    for name in ("volume_alert_floor", "cross_team_alert_teams", "cross_team_alert_days"):
        if getattr(settings, name) < 0:
            raise ConfigurationError(f"{name} must not be negative")


async def raise_alerts(
    conn: asyncpg.Connection,
    settings: Settings,
    caller: Caller,
    batch_id: uuid.UUID,
    subjects: int,
    day_total: int,
    now: datetime,
    day: date,
) -> list[str]:
    """Write the alerts this submission calls for; returns their kinds (for the metrics)."""
    assert caller.team_id is not None
    raised: list[str] = []

    async def alert(kind: str, detail: dict[str, Any], digest: bytes | None = None) -> None:
        await conn.execute(
            sql("insert_alert"),
            now,
            kind,
            caller.officer_id,
            caller.team_id,
            batch_id,
            digest,
            detail,
        )
        raised.append(kind)

    hours = WorkingTime.from_settings(settings)
    if hours is not None and not hours.contains(now):
        local = now.astimezone(hours.tz)
        await alert(OFF_HOURS, {"local_time": local.isoformat(timespec="minutes")})

    if settings.volume_alert_factor > 0:
        history = await conn.fetchval(
            sql("volume_between"), caller.officer_id, day - timedelta(days=BASELINE_DAYS), day
        )
        average = history / BASELINE_DAYS
        line = max(settings.volume_alert_floor, settings.volume_alert_factor * average)
        # Only the batch that crosses the line raises it, so the alert comes once a day.
        if day_total > line >= day_total - subjects:
            detail = {"today": day_total, "daily_average": round(average, 1), "line": line}
            await alert(VOLUME_SPIKE, detail)

    if settings.cross_team_alert_teams > 0:
        since = now - timedelta(days=settings.cross_team_alert_days)
        rows = await conn.fetch(
            sql("cross_team_subjects"),
            batch_id,
            since,
            settings.cross_team_alert_teams,
            caller.team_id,
        )
        for row in rows[:MAX_SUBJECT_ALERTS_PER_BATCH]:
            detail = {
                "teams": row["teams"],
                "days": settings.cross_team_alert_days,
                "flagged_in_batch": len(rows),
            }
            await alert(CROSS_TEAM_SUBJECT, detail, row["subject_digest"])
    return raised
