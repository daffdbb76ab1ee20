"""Storing batches and reading them back: submission, status, results, cancellation."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import asyncpg

from gateway import channels, policy
from gateway.api_common import (
    id_cursor,
    parse_cursor,
    parse_id_cursor,
    parse_time_cursor,
    parse_uuid,
    time_cursor,
)
from gateway.auth import Caller
from gateway.crypto import DataCipher, result_context, subject_context
from gateway.errors import Conflict, NotFound, ValidationFailed
from gateway.queries import sql
from gateway.validation import BatchRequest

PROGRESS_FIELDS = ("total", "done", "found", "not_found", "failed")


def request_digest(request: BatchRequest) -> bytes:
    canonical = json.dumps(request.canonical(), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).digest()


async def submit(
    pool: asyncpg.Pool,
    cipher: DataCipher,
    caller: Caller,
    request: BatchRequest,
    idempotency_key: str | None,
) -> tuple[uuid.UUID, bool]:
    """Store the batch and all its inquiries in one transaction. Returns (id, replayed):
    a submission repeated with the same ``Idempotency-Key`` returns the first batch."""
    assert caller.team_id is not None
    digest = request_digest(request)
    batch_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        # The team's submissions take turns from here to commit, so a retry racing its first
        # attempt waits for it and is answered as a replay, not judged (and intercepted) anew.
        await conn.execute(sql("lock_team_submissions"), caller.team_id)
        if idempotency_key is not None:
            existing = await conn.fetchrow(
                sql("find_idempotent_batch"), caller.officer_id, idempotency_key
            )
            if existing is not None:
                return _replayed(existing, digest)
        status = await policy.admit(conn, caller, request)
        inserted = await conn.fetchval(
            sql("insert_batch"),
            batch_id,
            status,
            caller.officer_id,
            caller.team_id,
            request.case_number,
            request.reason,
            list(request.agencies),
            len(request.subjects),
            idempotency_key,
            digest,
        )
        if inserted is None:
            # A concurrent submission with the same key won the race (we waited for it).
            existing = await conn.fetchrow(
                sql("find_idempotent_batch"), caller.officer_id, idempotency_key
            )
            return _replayed(existing, digest)
        await conn.copy_records_to_table(
            "subjects",
            columns=["batch_id", "row", "kind", "name", "id_number", "subject_digest"],
            records=(
                (
                    batch_id,
                    row,
                    s.kind,
                    cipher.seal_text(s.name, subject_context(batch_id, row, "name")),
                    cipher.seal_text(s.id_number, subject_context(batch_id, row, "id")),
                    cipher.subject_digest(s.id_number),
                )
                for row, s in enumerate(request.subjects)
            ),
        )
        await conn.execute(
            sql("insert_inquiries"), batch_id, len(request.subjects), list(request.agencies)
        )
        await policy.after_submit(conn, caller, batch_id, request)
        # Audit records last: the first one takes the audit chain's head lock, which every
        # claim and result commit in the system waits for, so hold it only to commit.
        await conn.execute(
            sql("audit_batch_event"),
            batch_id,
            "batch.submitted",
            "accepted",
            {"subjects": len(request.subjects), "agencies": list(request.agencies)},
        )
        await policy.audit_submission(conn, batch_id)
        if status == "queued":
            await conn.execute(sql("notify"), channels.QUEUED, "")
    return batch_id, False


def _replayed(existing: asyncpg.Record, digest: bytes) -> tuple[uuid.UUID, bool]:
    if existing["request_digest"] != digest:
        raise ValidationFailed(
            [
                {
                    "row": None,
                    "field": "Idempotency-Key",
                    "problem": "was already used for a different batch",
                }
            ],
            "Idempotency-Key reused with a different request; nothing was stored",
        )
    return existing["id"], True


def parse_batch_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        # Not a UUID cannot be a batch: answer exactly as for one that does not exist.
        raise NotFound("no such batch") from exc


def _visible(row: asyncpg.Record | None, caller: Caller) -> asyncpg.Record:
    """Officers see their own team's batches; to them any other batch does not exist."""
    if row is None or (caller.role == "officer" and row["team_id"] != caller.team_id):
        raise NotFound("no such batch")
    return row


def _batch_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "case_number": row["case_number"],
        "reason": row["reason"],
        "agencies": list(row["agencies"]),
        "status": row["status"],
        "officer": row["officer"],
        "team": row["team"],
        "subject_count": row["subject_count"],
        "created_at": row["created_at"].isoformat(),
        "started_at": row["started_at"].isoformat() if row["started_at"] else None,
        "finished_at": row["finished_at"].isoformat() if row["finished_at"] else None,
    }


async def get_batch(pool: asyncpg.Pool, caller: Caller, batch_id: uuid.UUID) -> dict[str, Any]:
    async with pool.acquire() as conn:
        row = _visible(await conn.fetchrow(sql("get_batch"), batch_id), caller)
        progress_rows = await conn.fetch(sql("batch_progress"), batch_id)
    body = _batch_json(row)
    progress = {agency: dict.fromkeys(PROGRESS_FIELDS, 0) for agency in row["agencies"]}
    for p in progress_rows:
        progress[p["agency"]] = {name: p[name] for name in PROGRESS_FIELDS}
    body["progress"] = progress
    return body


async def list_batches(
    pool: asyncpg.Pool, caller: Caller, cursor: str | None, limit: int
) -> dict[str, Any]:
    after_time, after_id = None, None
    if cursor:
        after_time, after_id = parse_cursor(cursor, lambda v: parse_time_cursor(v, parse_uuid))
    team_filter = caller.team_id if caller.role == "officer" else None
    async with pool.acquire() as conn:
        rows = await conn.fetch(sql("list_batches"), team_filter, after_time, after_id, limit + 1)
    items = [_batch_json(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = time_cursor(last["created_at"], last["id"])
    return {"items": items, "next_cursor": next_cursor}


async def results_page(
    pool: asyncpg.Pool,
    cipher: DataCipher,
    caller: Caller,
    batch_id: uuid.UUID,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    after = parse_cursor(cursor, parse_id_cursor) if cursor else 0
    async with pool.acquire() as conn:
        _visible(await conn.fetchrow(sql("get_batch"), batch_id), caller)
        rows = await conn.fetch(sql("results_page"), batch_id, after, limit + 1)
    items = [
        {
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
            "completed_at": r["completed_at"].isoformat(),
        }
        for r in rows[:limit]
    ]
    next_cursor = id_cursor(rows[limit - 1]["inquiry_id"]) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}


#: a cancel racing the result writer over the same rows may be chosen as a deadlock victim;
#: it rolled back whole, so it is simply tried again
CANCEL_ATTEMPTS = 5


async def cancel(pool: asyncpg.Pool, caller: Caller, batch_id: uuid.UUID) -> dict[str, Any]:
    for attempt in range(1, CANCEL_ATTEMPTS + 1):
        try:
            async with pool.acquire() as conn, conn.transaction():
                row = _visible(await conn.fetchrow(sql("get_batch"), batch_id), caller)
                if await conn.fetchval(sql("cancel_batch"), batch_id) is None:
                    raise Conflict(f"the batch is already {row['status']}", status=row["status"])
                await conn.execute(sql("cancel_inquiries"), batch_id)
                await conn.execute(
                    sql("audit_batch_event"),
                    batch_id,
                    "batch.cancelled",
                    "cancelled",
                    {"by": caller.officer},
                )
                await conn.execute(sql("notify"), channels.CANCELLED, str(batch_id))
            break
        except asyncpg.TransactionRollbackError:
            if attempt == CANCEL_ATTEMPTS:
                raise
    return await get_batch(pool, caller, batch_id)
