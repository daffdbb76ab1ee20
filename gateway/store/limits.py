"""Agency limits held across replicas (migration 0004): in-flight permits leased per replica
and send times reserved from one shared rate record per agency."""

from __future__ import annotations

from gateway.store import _run
from gateway.store._run import Connection, Record


async def reserve_send_times(
    conn: Connection, agency: str, wanted: int, count: int, window: float, tolerance: float
) -> list[float]:
    """Seconds from now to each of ``wanted`` send times: ``count`` requests in any
    ``window`` seconds."""
    slots = await _run.fetchval(conn, "agency_rate_slots", agency, wanted, count, window, tolerance)
    return [float(s) for s in slots]


async def sync_permits(
    conn: Connection,
    agency: str,
    owner: str,
    limit: int,
    keep: int,
    wanted: int,
    in_use: int,
    lease_seconds: float,
) -> Record:
    """Renew this replica's share of the in-flight limit: (held, target, in_flight, starved)."""
    row = await _run.fetchrow(
        conn, "agency_permits_sync", agency, owner, limit, keep, wanted, in_use, lease_seconds
    )
    assert row is not None  # the function always returns one row
    return row


async def release_permits(conn: Connection, owner: str) -> None:
    await _run.execute(conn, "agency_permits_release", owner)


async def in_flight(conn: Connection) -> list[Record]:
    """(agency, in_flight, replicas) across live replicas."""
    return await _run.fetch(conn, "agency_in_flight")
