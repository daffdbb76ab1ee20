"""The dispatcher's queue: claiming inquiries under a lease, recording results (only for
leases still held), giving work back, keeping and reclaiming leases, agency deadlines."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

from gateway.store import _run, channels
from gateway.store._run import Connection, Record


async def claim(
    conn: Connection, agency: str, limit: int, owner: str, lease_seconds: float
) -> list[Record]:
    """Up to ``limit`` due inquiries of ``agency``, fair across open batches, leased to
    ``owner``: (id, batch_id, row, attempts, answer_deadline, name, id_number, kind,
    case_number, household_items, officer, team, share: each batch's most in this claim),
    with the dispatch audited."""
    return await _run.fetch(conn, "claim_inquiries", agency, limit, owner, lease_seconds)


async def record_results(
    conn: Connection,
    inquiry_ids: Sequence[int],
    statuses: Sequence[str],
    sealed_data: Sequence[bytes | None],
    errors: Sequence[str | None],
    attempts: Sequence[int],
    assets: Sequence[int | None],
    owner: str,
) -> list[Record]:
    """Results of inquiries still leased by ``owner``, with their audit records (``assets``:
    found in each record, or None); returns how many were stored: (batch_id, agency,
    status, stored)."""
    return await _run.fetch(
        conn,
        "record_results",
        list(inquiry_ids),
        list(statuses),
        list(sealed_data),
        list(errors),
        list(attempts),
        owner,
        list(assets),
    )


async def finish_batches(conn: Connection, batch_ids: Sequence[uuid.UUID]) -> list[Record]:
    """Mark done the batches among these with nothing left to ask: their ids."""
    return await _run.fetch(conn, "finish_batches", list(batch_ids))


async def requeue(
    conn: Connection,
    inquiry_ids: Sequence[int],
    attempts: Sequence[int],
    delays: Sequence[float],
    errors: Sequence[str | None],
    owner: str,
) -> list[Record]:
    """Give back unanswered work still leased by ``owner``, due after each delay, with the
    error that made it wait (None: keep the last one): (id, agency)."""
    return await _run.fetch(
        conn,
        "requeue_deferred",
        list(inquiry_ids),
        list(attempts),
        list(delays),
        owner,
        list(errors),
    )


async def release_leases(conn: Connection, owner: str) -> None:
    """Queue again what ``owner`` still leases, and tell every replica's claim loops of
    those agencies (they would otherwise find it at their next poll)."""
    async with _run.transaction(conn):
        rows = await _run.fetch(conn, "release_leases", owner)
        if rows:
            payload = channels.agencies_payload(row["agency"] for row in rows)
            await _run.execute(conn, "notify", channels.QUEUED, payload)


async def renew_leases(
    conn: Connection, owner: str, lease_seconds: float, inquiry_ids: Sequence[int]
) -> None:
    """Extend the leases of these inquiries, still held by ``owner``."""
    await _run.execute(conn, "renew_leases", owner, lease_seconds, list(inquiry_ids))


async def reclaim_expired(conn: Connection) -> list[Record]:
    """Requeue leases whose holder died: (agency) of each."""
    return await _run.fetch(conn, "reclaim_expired_leases")


async def lease_overdue(
    conn: Connection, owner: str, lease_seconds: float, now: datetime, limit: int
) -> list[Record]:
    """Lease queued inquiries whose answer deadline is past ``now``, to be recorded failed:
    (id, agency, attempts, last_error)."""
    return await _run.fetch(conn, "lease_overdue", owner, lease_seconds, now, limit)


async def waiting(conn: Connection, late_after: float, now: datetime) -> list[Record]:
    """(agency, waiting, late): inquiries waiting after a failed attempt, and those not
    answered ``late_after`` seconds after their batch was submitted."""
    return await _run.fetch(conn, "agency_waiting", late_after, now)


async def due_now(conn: Connection, agency: str) -> None:
    """The agency is back: what was put off for it is due at once."""
    await _run.execute(conn, "agency_due_now", agency)


async def rerun_overdue(
    conn: Connection,
    batch_id: uuid.UUID,
    officer_id: int,
    officer: str,
    team: str | None,
    deadlines: Mapping[str, float],
    now: datetime,
) -> list[Record]:
    """Queue afresh what failed for want of an answer within the deadline, each with a new
    deadline (``deadlines``: seconds per agency from ``now``), audited: (agency, requeued)."""
    return await _run.fetch(
        conn,
        "rerun_overdue",
        batch_id,
        officer_id,
        officer,
        team,
        list(deadlines),
        list(deadlines.values()),
        now,
    )
