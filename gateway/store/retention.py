"""Purging the personal data of batches finished long ago (migration 0015 says what goes and
what stays). Each step is its own short transaction: one batch's purge may be cut short at any
point and finished later, and no transaction holds locks on more than ``chunk`` rows."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from gateway.store import _run, audit
from gateway.store._run import Connection, Pool, Record

#: rows per transaction
CHUNK = 2000


@dataclass(frozen=True, slots=True)
class DueBatch:
    id: uuid.UUID
    finished_at: datetime
    subjects: int
    records: int


@dataclass(frozen=True, slots=True)
class Purger:
    """Who purges (``system:retention`` or ``cli:<os user>``), as the audit log names it."""

    actor: str
    retention_days: int


async def due(pool: Pool, finished_before: datetime, limit: int) -> list[DueBatch]:
    """Batches finished before ``finished_before`` whose personal data is still kept, oldest
    first, each with its number of subjects and of sealed agency records."""
    async with _run.connection(pool) as conn:
        rows = await _run.fetch(conn, "retention_due", finished_before, limit)
    return [DueBatch(r["id"], r["finished_at"], r["subjects"], r["records"]) for r in rows]


async def unfinished(pool: Pool) -> list[uuid.UUID]:
    """Batches whose purge began and was cut short."""
    async with _run.connection(pool) as conn:
        return [r["id"] for r in await _run.fetch(conn, "retention_unfinished")]


async def begin(
    pool: Pool, batch: DueBatch, purger: Purger, finished_before: datetime, now: datetime
) -> bool:
    """Mark ``batch`` purged and audit it, if it is still due; whether it was (another
    replica, or a re-run, may have come first)."""
    async with _run.transaction_on(pool) as conn:
        # The row's lock first, in a statement of its own: a control being asked on the batch
        # (or a 终本 closure of its case) holds the row to commit, and the statement after
        # this wait sees what it committed (one statement would judge by its older snapshot).
        await _run.execute(conn, "retention_lock_batch", batch.id)
        row = await _run.fetchrow(conn, "retention_begin", batch.id, now, finished_before)
        if row is None:
            return False
        await _run.execute(conn, "retention_control_notes", batch.id)
        detail = {
            "retention_days": purger.retention_days,
            "finished_at": batch.finished_at.isoformat(),
            "subjects": batch.subjects,
            "records": batch.records,
        }
        await audit.action(
            conn,
            "batch.purged",
            officer_id=None,
            officer=purger.actor,
            team=row["team"],
            case_number=row["case_number"],
            batch_id=batch.id,
            outcome="purged",
            detail=detail,
        )
    return True


async def erase(
    pool: Pool,
    batch_id: uuid.UUID,
    going_on: Callable[[], bool] = lambda: True,
    chunk: int = CHUNK,
) -> tuple[int, int]:
    """Set a purged batch's sealed values to NULL, ``chunk`` rows per transaction, then mark
    its purge finished: (subjects, records) that still held data. Checks ``going_on()``
    before each chunk: stopped, the purge stays unfinished for the next to finish. Safe to
    run again."""
    subjects = await _walk(pool, _subjects_chunk, batch_id, chunk, going_on)
    records = await _walk(pool, _results_chunk, batch_id, chunk, going_on)
    if going_on():
        async with _run.connection(pool) as conn:
            await _run.execute(conn, "retention_end", batch_id)
    return subjects, records


async def _subjects_chunk(
    conn: Connection, batch_id: uuid.UUID, after: int, chunk: int
) -> Record | None:
    return await _run.fetchrow(conn, "retention_subjects_chunk", batch_id, after, chunk)


async def _results_chunk(
    conn: Connection, batch_id: uuid.UUID, after: int, chunk: int
) -> Record | None:
    return await _run.fetchrow(conn, "retention_results_chunk", batch_id, after, chunk)


async def _walk(
    pool: Pool,
    step: Callable[[Connection, uuid.UUID, int, int], Awaitable[Record | None]],
    batch_id: uuid.UUID,
    chunk: int,
    going_on: Callable[[], bool],
) -> int:
    """Run ``step`` a chunk at a time (each its own transaction) until it reaches the end
    or ``going_on()`` is false; the rows it purged."""
    after, total = -1, 0
    while going_on():
        async with _run.transaction_on(pool) as conn:
            row = await step(conn, batch_id, after, chunk)
        assert row is not None  # an aggregate returns one row
        if row["last"] is None:
            return total
        after, total = row["last"], total + row["purged"]
    return total
