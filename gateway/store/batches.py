"""Batches, their subjects and inquiries: stored in the submission's transaction, read back
for status, progress and results, cancelled, approved or rejected."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from gateway.store import _run
from gateway.store._run import Connection, Record

#: subjects whose inquiries are stored in one transaction: a list up to this long with the
#: submission, a longer one chunk by chunk (``queue_chunk``; 0.1 s of the database's time)
QUEUE_CHUNK = 2000

#: up to this many subjects are inserted in one statement, more by COPY
FEW_SUBJECTS = 500

SUBJECT_COLUMNS = ("batch_id", "row", "kind", "name", "id_number", "subject_digest")


async def lock_team_submissions(conn: Connection, team_id: int) -> None:
    """One team's submissions take turns until commit (quota and re-query checks, replays)."""
    await _run.execute(conn, "lock_team_submissions", team_id)


async def find_idempotent(conn: Connection, officer_id: int, key: str) -> Record | None:
    """The batch this officer submitted under ``key``: (id, request_digest)."""
    return await _run.fetchrow(conn, "find_idempotent_batch", officer_id, key)


async def insert_batch(
    conn: Connection,
    batch_id: uuid.UUID,
    status: str,
    officer_id: int,
    team_id: int,
    case_number: str,
    reason: str,
    agencies: Sequence[str],
    subject_count: int,
    idempotency_key: str | None,
    request_digest: bytes,
    household_items: Sequence[str],
    merged_rows: int = 0,
    unqueued_from: int | None = None,
) -> datetime | None:
    """When it was stored; None when a concurrent submission with the same idempotency key
    won the race.
    ``unqueued_from``: the first subject row whose inquiries are queued later, in chunks
    (``queue_chunk``); None when they are all stored with the batch."""
    return await _run.fetchval(
        conn,
        "insert_batch",
        batch_id,
        status,
        officer_id,
        team_id,
        case_number,
        reason,
        list(agencies),
        subject_count,
        idempotency_key,
        request_digest,
        list(household_items),
        merged_rows,
        unqueued_from,
    )


async def insert_subjects(conn: Connection, rows: AsyncIterable[Sequence[Any]], count: int) -> None:
    """``count`` rows of ``SUBJECT_COLUMNS`` (name and identifier already sealed): a few in
    one prepared statement, more by COPY (which costs a round trip more, and then none per
    row)."""
    if count > FEW_SUBJECTS:
        await _run.copy_records(conn, "subjects", SUBJECT_COLUMNS, rows)
        return
    columns: list[list[Any]] = [[] for _ in SUBJECT_COLUMNS]
    async for row in rows:
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    await _run.execute(conn, "insert_subjects", *columns)


async def insert_inquiries(
    conn: Connection,
    batch_id: uuid.UUID,
    rows: Sequence[int],
    deadlines: Mapping[str, float],
    submitted_at: datetime,
    state: str = "queued",
) -> None:
    """One inquiry per subject (its ``rows``) and agency (``deadlines``: the agencies asked,
    in order, and how many seconds from ``submitted_at`` each may take to answer)."""
    await _run.execute(
        conn,
        "insert_inquiries",
        batch_id,
        list(rows),
        list(deadlines),
        list(deadlines.values()),
        submitted_at,
        state,
    )


async def queue_chunk(
    conn: Connection,
    chunk: int,
    deadlines_of: Callable[[Sequence[str]], Mapping[str, float]],
) -> Record | None:
    """Store the inquiries of the next ``chunk`` subjects of the oldest batch still queueing
    them (``deadlines_of``: its agencies' answer deadlines); the batch (id, status, ...), or
    None when no batch is left to queue. Call in a transaction: it holds the batch's lock."""
    batch = await _run.fetchrow(conn, "lock_unqueued_batch")
    if batch is None:
        return None
    batch_id, start = batch["id"], batch["unqueued_from"]
    found = await _run.fetch(conn, "subject_rows_from", batch_id, start, chunk + 1)
    rows = [r["row"] for r in found]
    this, rest = rows[:chunk], rows[chunk:]
    # a batch stopped meanwhile keeps a row per subject and agency, none of them to be asked
    open_ = batch["status"] in ("pending_approval", "queued", "running")
    state = "queued" if open_ else "cancelled"
    deadlines = deadlines_of(batch["agencies"])
    await insert_inquiries(conn, batch_id, this, deadlines, batch["asked_from"], state)
    await _run.execute(conn, "set_unqueued_from", batch_id, rest[0] if rest else None)
    return batch


async def set_requery_reason(conn: Connection, batch_id: uuid.UUID, reason: str) -> None:
    await _run.execute(conn, "set_requery_reason", batch_id, reason)


async def get(conn: Connection, batch_id: uuid.UUID) -> Record | None:
    return await _run.fetchrow(conn, "get_batch", batch_id)


async def status(conn: Connection, batch_id: uuid.UUID | str) -> str | None:
    return await _run.fetchval(conn, "batch_status", batch_id)


async def progress(conn: Connection, batch_id: uuid.UUID) -> list[Record]:
    return await _run.fetch(conn, "batch_progress", batch_id)


async def page(
    conn: Connection,
    team_id: int | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Record]:
    """Batches newest first (of one team, or all), after a (created_at, id) cursor."""
    after_time, after_id = after if after else (None, None)
    return await _run.fetch(conn, "list_batches", team_id, after_time, after_id, limit)


async def results(
    conn: Connection, batch_id: uuid.UUID, after_inquiry: int, limit: int
) -> list[Record]:
    return await _run.fetch(conn, "results_page", batch_id, after_inquiry, limit)


async def cancel(conn: Connection, batch_id: uuid.UUID) -> bool:
    """Cancel the batch and its unanswered inquiries; False if it had already finished."""
    if await _run.fetchval(conn, "cancel_batch", batch_id) is None:
        return False
    await _run.execute(conn, "cancel_inquiries", batch_id)
    return True


async def approve(
    conn: Connection,
    batch_id: uuid.UUID,
    note: str | None,
    now: datetime,
    deadlines: Mapping[str, float],
) -> bool:
    """Held -> queued, with the commander's note; its inquiries' answer deadlines run from
    ``now`` (``deadlines``: seconds per agency). False unless it was pending approval."""
    if await _run.fetchval(conn, "approve_batch", batch_id, note, now) is None:
        return False
    agencies = list(deadlines)
    await _run.execute(
        conn, "restart_deadlines", batch_id, now, agencies, [deadlines[a] for a in agencies]
    )
    return True


async def reject(conn: Connection, batch_id: uuid.UUID, note: str | None) -> bool:
    """Held -> rejected (final), its inquiries cancelled; False unless pending approval."""
    if await _run.fetchval(conn, "reject_batch", batch_id, note) is None:
        return False
    await _run.execute(conn, "cancel_inquiries", batch_id)
    return True


async def notify(conn: Connection, channel: str, payload: str = "") -> None:
    """NOTIFY other processes (delivered at commit)."""
    await _run.execute(conn, "notify", channel, payload)
