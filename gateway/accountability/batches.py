"""Batches as their caller may see and change them.

Officers see only their own team's batches; to them another team's batch does not exist
(``NotFound``, exactly as for an id nobody used). Commanders see every batch's status and
progress, never results. Every change of a batch's state by a person (cancel, approve,
reject, re-run) is written with its audit record in one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Literal

from gateway.accountability.auth import Caller
from gateway.core.errors import Conflict, Gone, NotFound, TransactionConflict
from gateway.core.validation import BatchRequest
from gateway.store import audit as store_audit
from gateway.store import batches as store
from gateway.store import channels, db, inquiries
from gateway.store import exports as store_exports
from gateway.store.crypto import DataCipher, result_context, subject_context
from gateway.store.db import Pool, Record

PROGRESS_FIELDS = ("total", "done", "found", "not_found", "failed", "waiting")
#: a cancel or a re-run racing the result writer over the same rows may be chosen as a
#: deadlock victim; it rolled back whole, so it is simply tried again
CANCEL_ATTEMPTS = 5

Decision = Literal["approved", "rejected"]


def _visible(row: Record | None, caller: Caller) -> Record:
    """Officers see their own team's batches; to them any other batch does not exist."""
    if row is None or (caller.role == "officer" and row["team_id"] != caller.team_id):
        raise NotFound("no such batch")
    return row


def _kept(row: Record) -> Record:
    """The batch, unless its personal data was purged (``accountability.retention``)."""
    if row["purged_at"] is not None:
        day = row["purged_at"].date().isoformat()
        raise Gone(
            f"the batch's names, identifiers and agency records were purged on {day}, "
            "after the retention period",
            purged_at=row["purged_at"].isoformat(),
        )
    return row


def _one_snapshot(conn: db.Connection) -> AbstractAsyncContextManager[db.Connection]:
    """A read-only transaction with one snapshot: a purge that begins after the check that
    the batch is kept does not empty the rows read next."""
    return db.transaction(conn, isolation="repeatable_read", readonly=True)


async def get_kept_batch(pool: Pool, caller: Caller, batch_id: uuid.UUID) -> dict[str, Any]:
    """``get_batch``, or Gone if its personal data was purged (before an export begins)."""
    async with db.connection(pool) as conn:
        _kept(_visible(await store.get(conn, batch_id), caller))
    return await get_batch(pool, caller, batch_id)


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def batch_json(row: Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "case_number": row["case_number"],
        "reason": row["reason"],
        "agencies": list(row["agencies"]),
        "household_items": list(row["household_items"]),
        "status": row["status"],
        "officer": row["officer"],
        "team": row["team"],
        "subject_count": row["subject_count"],
        "merged_rows": row["merged_rows"],
        "created_at": row["created_at"].isoformat(),
        "started_at": _time(row["started_at"]),
        "finished_at": _time(row["finished_at"]),
        "purged_at": _time(row["purged_at"]),
    }


async def get_batch(pool: Pool, caller: Caller, batch_id: uuid.UUID) -> dict[str, Any]:
    """The batch with its progress per agency."""
    async with db.connection(pool) as conn:
        row = _visible(await store.get(conn, batch_id), caller)
        progress_rows = await store.progress(conn, batch_id)
    body = batch_json(row)
    progress = {agency: dict.fromkeys(PROGRESS_FIELDS, 0) for agency in row["agencies"]}
    for p in progress_rows:
        progress[p["agency"]] = {name: p[name] for name in PROGRESS_FIELDS}
    for figures in progress.values():  # every subject, its inquiries stored yet or not
        figures["total"] = row["subject_count"]
    body["progress"] = progress
    return body


def submitted_batch(
    caller: Caller,
    batch_id: uuid.UUID,
    request: BatchRequest,
    status: str,
    created_at: datetime,
) -> dict[str, Any]:
    """A batch just stored by ``caller``, as ``get_batch`` would read it back at its commit
    (nothing answered yet): the 202 needs no second look at the database."""
    count = len(request.subjects)
    progress = {agency: dict.fromkeys(PROGRESS_FIELDS, 0) for agency in request.agencies}
    for figures in progress.values():
        figures["total"] = count
    return {
        "id": str(batch_id),
        "case_number": request.case_number,
        "reason": request.reason,
        "agencies": list(request.agencies),
        "household_items": list(request.household_items),
        "status": status,
        "officer": caller.officer,
        "team": caller.team,
        "subject_count": count,
        "merged_rows": request.merged_rows,
        "created_at": created_at.isoformat(),
        "started_at": None,
        "finished_at": None,
        "purged_at": None,
        "progress": progress,
    }


async def list_batches(
    pool: Pool, caller: Caller, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> tuple[list[dict[str, Any]], tuple[datetime, uuid.UUID] | None]:
    """A page of batches newest first, and the key after its last one if there is more."""
    team_filter = caller.team_id if caller.role == "officer" else None
    async with db.connection(pool) as conn:
        rows = await store.page(conn, team_filter, after, limit + 1)
    items = [batch_json(r) for r in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    return items, (last["created_at"], last["id"]) if last is not None else None


async def results_page(
    pool: Pool,
    cipher: DataCipher,
    caller: Caller,
    batch_id: uuid.UUID,
    after: int,
    limit: int,
) -> tuple[list[dict[str, Any]], int | None]:
    """Results in subject order after inquiry ``after``, and the next key if there is more."""
    async with db.connection(pool) as conn, _one_snapshot(conn):
        _kept(_visible(await store.get(conn, batch_id), caller))
        rows = await store.results(conn, batch_id, after, limit + 1)
    items = [_result_json(cipher, batch_id, r) for r in rows[:limit]]
    return items, (rows[limit - 1]["inquiry_id"] if len(rows) > limit else None)


async def export_page(
    pool: Pool,
    cipher: DataCipher,
    caller: Caller,
    batch_id: uuid.UUID,
    after: int,
    limit: int,
) -> tuple[list[dict[str, Any]], int | None]:
    """Every inquiry in subject order after inquiry ``after``, answered or not (a result
    workbook has a row for each person), and the next key if there is more: items as
    ``results_page``'s, whose status may also be ``pending`` (not answered yet) or
    ``cancelled`` (never to be asked)."""
    async with db.connection(pool) as conn, _one_snapshot(conn):
        _kept(_visible(await store.get(conn, batch_id), caller))
        rows = await store_exports.page(conn, batch_id, after, limit + 1)
    items = [_result_json(cipher, batch_id, r) for r in rows[:limit]]
    return items, (rows[limit - 1]["inquiry_id"] if len(rows) > limit else None)


def _result_json(cipher: DataCipher, batch_id: uuid.UUID, r: Record) -> dict[str, Any]:
    return {
        "subject": {
            "row": r["row"],
            "name": cipher.open_text(r["name"], subject_context(batch_id, r["row"], "name")),
            "id_number": cipher.open_text(
                r["id_number"], subject_context(batch_id, r["row"], "id")
            ),
        },
        "agency": r["agency"],
        "status": r["status"],
        "data": cipher.open_json(r["data"], result_context(r["inquiry_id"])),
        "error": r["error"],
        "attempts": r["attempts"],
        "completed_at": _time(r["completed_at"]),
        "next_attempt_at": _time(r["next_attempt_at"]),
    }


async def cancel(pool: Pool, caller: Caller, batch_id: uuid.UUID) -> dict[str, Any]:
    """Stop a batch: its unanswered inquiries are never asked (other processes are told)."""
    for attempt in range(1, CANCEL_ATTEMPTS + 1):
        try:
            async with db.transaction_on(pool) as conn:
                row = _visible(await store.get(conn, batch_id), caller)
                if not await store.cancel(conn, batch_id):
                    raise Conflict(f"the batch is already {row['status']}", status=row["status"])
                detail = {"by": caller.officer}
                await store_audit.batch_event(
                    conn, batch_id, "batch.cancelled", "cancelled", detail
                )
                await store.notify(conn, channels.CANCELLED, str(batch_id))
            break
        except TransactionConflict:
            if attempt == CANCEL_ATTEMPTS:
                raise
    return await get_batch(pool, caller, batch_id)


async def decide(
    pool: Pool,
    caller: Caller,
    batch_id: uuid.UUID,
    decision: Decision,
    note: str | None,
    *,
    now: datetime,
    deadlines: Mapping[str, float],
) -> dict[str, Any]:
    """A commander approves a held batch (queued, dispatchers told; the agencies' answer
    deadlines, ``deadlines`` in seconds per agency, run from ``now``) or rejects it (final)."""
    async with db.transaction_on(pool) as conn:
        row = await store.get(conn, batch_id)
        if row is None:
            raise NotFound("no such batch")
        if decision == "approved":
            changed = await store.approve(conn, batch_id, note, now, deadlines)
        else:
            changed = await store.reject(conn, batch_id, note)
        if not changed:
            status = row["status"]
            raise Conflict(f"the batch is {status}, not pending_approval", status=status)
        # The note may name people: it stays on the batch (retention clears it), not in the
        # audit log, which keeps everything for good.
        detail = {"by": caller.officer, "note_characters": len(note or "")}
        await store_audit.batch_event(conn, batch_id, f"batch.{decision}", decision, detail)
        if decision == "approved":
            await store.notify(conn, channels.QUEUED, channels.agencies_payload(row["agencies"]))
        else:
            await store.notify(conn, channels.CANCELLED, str(batch_id))
    return await get_batch(pool, caller, batch_id)


async def rerun_overdue(
    pool: Pool,
    caller: Caller,
    batch_id: uuid.UUID,
    deadlines: Mapping[str, float],
    now: datetime,
) -> tuple[dict[str, int], dict[str, Any]]:
    """Queue afresh this batch's inquiries that failed for want of an answer within the
    deadline, each with a new deadline from ``now``: (requeued per agency, the batch)."""
    batch = await get_batch(pool, caller, batch_id)  # NotFound unless the caller's team's
    if batch["status"] == "cancelled":
        raise Conflict("the batch was cancelled")
    if batch["purged_at"] is not None:
        raise Gone("the batch's personal data was purged after the retention period")
    rows: list[Record] = []
    for attempt in range(1, CANCEL_ATTEMPTS + 1):
        # It locks the batch, then appends to the audit chain; the result writer takes them
        # the other way round: PostgreSQL may end one as a deadlock's victim.
        try:
            async with db.transaction_on(pool) as conn:
                rows = await inquiries.rerun_overdue(
                    conn, batch_id, caller.officer_id, caller.officer, caller.team, deadlines, now
                )
                if rows:
                    agencies = channels.agencies_payload(row["agency"] for row in rows)
                    await store.notify(conn, channels.QUEUED, agencies)
            break
        except TransactionConflict:
            if attempt == CANCEL_ATTEMPTS:
                raise
    requeued: dict[str, int] = {row["agency"]: row["requeued"] for row in rows}
    return requeued, await get_batch(pool, caller, batch_id)
