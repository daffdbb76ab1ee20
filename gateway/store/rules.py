"""What the admission rules and risk alerts read and write: filed cases, officers' daily
volume, earlier look-ups of a subject (by digest only), alerts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from gateway.store import _run
from gateway.store._run import Connection, Record


async def find_case(conn: Connection, case_number: str) -> Record | None:
    """(case_number, team_id, team) of a filed case."""
    return await _run.fetchrow(conn, "find_case", case_number)


async def officer_day_subjects(conn: Connection, officer_id: int, day: date) -> int:
    return int(await _run.fetchval(conn, "officer_day_subjects", officer_id, day))


async def add_daily_volume(conn: Connection, officer_id: int, day: date, subjects: int) -> int:
    """Count a batch in the officer's day; returns the day's subjects including it."""
    return int(await _run.fetchval(conn, "add_daily_volume", officer_id, day, subjects))


async def volume_between(conn: Connection, officer_id: int, start: date, end: date) -> int:
    """Subjects an officer submitted on local days [start, end)."""
    return int(await _run.fetchval(conn, "volume_between", officer_id, start, end))


async def requeried_rows(
    conn: Connection, digests: Sequence[bytes], team_id: int, since: datetime
) -> list[int]:
    """0-based rows (of ``digests``) the team asked for since ``since``."""
    rows = await _run.fetch(conn, "requeried_rows", list(digests), team_id, since)
    return [int(r["row"]) for r in rows]


async def case_subject_count(conn: Connection, case_number: str, digests: Sequence[bytes]) -> int:
    """Distinct subjects of a case over its earlier batches and these."""
    return int(await _run.fetchval(conn, "case_subject_count", case_number, list(digests)))


async def cross_team_subjects(
    conn: Connection, batch_id: uuid.UUID, since: datetime, teams: int, team_id: int
) -> list[Record]:
    """(subject_digest, teams) of this batch's subjects that ``teams`` teams asked for;
    in turn with every other check, until the transaction ends."""
    await _run.execute(conn, "cross_team_turn")
    return await _run.fetch(conn, "cross_team_subjects", batch_id, since, teams, team_id)


async def cross_team_checked(conn: Connection, batch_id: uuid.UUID) -> None:
    """The batch's deferred cross-team check is done: other lists' checks count it now."""
    await _run.execute(conn, "cross_team_checked", batch_id)


async def insert_alert(
    conn: Connection,
    at: datetime,
    kind: str,
    officer_id: int,
    team_id: int,
    batch_id: uuid.UUID,
    subject_digest: bytes | None,
    detail: dict[str, Any],
) -> None:
    await _run.execute(
        conn, "insert_alert", at, kind, officer_id, team_id, batch_id, subject_digest, detail
    )


async def list_alerts(
    conn: Connection,
    *,
    kind: str | None,
    team: str | None,
    officer: str | None,
    batch_id: uuid.UUID | None,
    since: datetime | None,
    until: datetime | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[Record]:
    """Newest first: (id, at, kind, officer, team, batch_id, subject_digest, detail)."""
    after_at, after_id = after if after else (None, None)
    return await _run.fetch(
        conn,
        "list_alerts",
        kind,
        team,
        officer,
        batch_id,
        since,
        until,
        after_at,
        after_id,
        limit,
    )
