"""The command centre's statistics, counted from the durable records."""

from __future__ import annotations

from datetime import datetime

from gateway.store import _run
from gateway.store._run import Connection, Record

Window = tuple[datetime | None, datetime | None]


async def agency_batches(conn: Connection, window: Window) -> list[Record]:
    """(agency, batches, people) for batches created in the window."""
    return await _run.fetch(conn, "stats_agency_batches", *window)


async def agency_inquiries(
    conn: Connection, window: Window, late_after: float, now: datetime
) -> list[Record]:
    """(agency, inquiries, found, not_found, failed, waiting, late, overdue, cancelled):
    late = unanswered ``late_after`` seconds after submission; overdue = failed for want of
    an answer within the agency's deadline."""
    return await _run.fetch(conn, "stats_agency_inquiries", *window, late_after, now)


async def throughput(conn: Connection) -> list[Record]:
    """(agency, last_minute, last_hour) results recorded."""
    return await _run.fetch(conn, "stats_throughput")


async def teams(conn: Connection, window: Window) -> list[Record]:
    """(team, batches, subjects, officers)."""
    return await _run.fetch(conn, "stats_teams", *window)


async def statuses(conn: Connection, window: Window) -> dict[str, int]:
    return {r["status"]: r["batches"] for r in await _run.fetch(conn, "stats_statuses", *window)}


async def alerts(conn: Connection, window: Window) -> dict[str, int]:
    return {r["kind"]: r["alerts"] for r in await _run.fetch(conn, "stats_alerts", *window)}
