"""The command centre's statistics, counted from the durable records."""

from __future__ import annotations

from datetime import datetime

from gateway.store import _run
from gateway.store._run import Connection, Record

Window = tuple[datetime | None, datetime | None]


async def report(conn: Connection, window: Window) -> list[Record]:
    """The court's report for batches created in the window: (team, agency, batches, people,
    identity_people, photo_people, found, assets, overdue), per team and agency, and per
    agency over every team (``team`` None). People are distinct subjects; found, assets and
    overdue count answers."""
    return await _run.fetch(conn, "stats_report", *window)


async def agency_inquiries(
    conn: Connection, window: Window, late_after: float, now: datetime
) -> list[Record]:
    """(agency, inquiries, not_found, failed, waiting, late, cancelled): late = unanswered
    ``late_after`` seconds after submission (found and overdue: ``report``)."""
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
