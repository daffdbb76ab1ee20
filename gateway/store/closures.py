"""终本 closures in the database: the schedule of re-queries, the debtors they ask for, and
the assets already known on a case (queries in ``sql/closures.sql``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from gateway.store import _run
from gateway.store._run import Connection, Record


async def case(conn: Connection, case_number: str) -> Record | None:
    return await _run.fetchrow(conn, "closure_case", case_number)


async def close(
    conn: Connection, case_number: str, closed_on: date, officer_id: int, rounds_done: int,
    next_due: date, now: datetime,
) -> bool:  # fmt: skip
    """Close the case; False when it is closed already (a second close at the same time)."""
    generation = await _run.fetchval(
        conn, "closure_upsert", case_number, closed_on, officer_id, rounds_done, next_due, now
    )
    return generation is not None


async def reopen(conn: Connection, case_number: str, now: datetime) -> bool:
    return await _run.fetchval(conn, "closure_reopen", case_number, now) is not None


async def due(conn: Connection, today: date, limit: int) -> list[Record]:
    return await _run.fetch(conn, "closures_due", today, limit)


async def claim_round(
    conn: Connection, case_number: str, generation: int, round_: int, today: date
) -> bool:
    """Hold the closure's row to commit, if ``round_`` is due and not taken by another."""
    return (
        await _run.fetchval(conn, "closure_claim_round", case_number, generation, round_, today)
        is not None
    )


async def advance(
    conn: Connection, case_number: str, generation: int, round_: int, batch_id: uuid.UUID,
    next_due: date | None, now: datetime,
) -> bool:  # fmt: skip
    """Record round ``round_`` as batch ``batch_id``; False when it was recorded already."""
    done = await _run.fetchval(
        conn, "closure_advance", case_number, round_, batch_id, next_due, now, generation
    )
    return done is not None


async def lock_batches_kept(conn: Connection, case_number: str) -> None:
    await _run.fetch(conn, "closure_lock_batches", case_number)


async def debtors(conn: Connection, case_number: str) -> list[Record]:
    return await _run.fetch(conn, "case_debtors", case_number)


async def found_records(
    conn: Connection, case_number: str, batch_id: uuid.UUID | None, agencies: Sequence[str]
) -> list[Record]:
    return await _run.fetch(conn, "case_found_records", case_number, batch_id, list(agencies))


async def add_seen(
    conn: Connection,
    case_number: str,
    seen: Sequence[tuple[bytes, str, bytes]],
    batch_id: uuid.UUID,
    now: datetime,
) -> list[str]:
    """Add (subject digest, agency, asset digest) to what case ``case_number`` knows; the
    agency of each one that was new."""
    rows = await _run.fetch(
        conn, "assets_seen_add", case_number, [s[0] for s in seen], [s[1] for s in seen],
        [s[2] for s in seen], batch_id, now,
    )  # fmt: skip
    return [r["agency"] for r in rows]


async def to_compare(conn: Connection, limit: int) -> list[Record]:
    return await _run.fetch(conn, "batches_to_compare", limit)


async def compared(conn: Connection, batch_id: uuid.UUID, now: datetime) -> None:
    await _run.execute(conn, "batch_compared", batch_id, now)


async def system_officer(conn: Connection, name: str, team_id: int) -> int:
    officer_id = await _run.fetchval(conn, "system_officer", name, team_id)
    if officer_id is None:
        # Another replica created it after this statement's snapshot was taken (its insert
        # waited for theirs); a new statement sees it.
        officer_id = await _run.fetchval(conn, "officer_id_by_name", name)
    return officer_id
