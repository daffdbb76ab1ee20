"""Appending to the tamper-evident audit log (the chain is kept by triggers, migration 0002)
and reading it: the head, the whole chain in order, and filtered pages."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any

from gateway.store import _run
from gateway.store._run import Connection, Pool, Record


async def batch_event(
    conn: Connection, batch_id: uuid.UUID, action: str, outcome: str, detail: Any
) -> None:
    """A record about a batch, attributed to the batch's officer, team and case."""
    await _run.execute(conn, "audit_batch_event", batch_id, action, outcome, detail)


async def action(
    conn: Connection,
    action: str,
    *,
    officer_id: int | None,
    officer: str,
    team: str | None,
    case_number: str | None = None,
    batch_id: uuid.UUID | None = None,
    outcome: str,
    detail: Any,
) -> None:
    """A record of an act: administration, an interception, a token issued."""
    await _run.execute(
        conn, "audit_action", action, officer_id, officer, team, case_number, batch_id,
        outcome, detail,
    )  # fmt: skip


async def actions(conn: Connection, records: Iterable[Sequence[Any]]) -> None:
    """Several records of ``audit_action``'s columns at once."""
    await _run.executemany(conn, "audit_action", records)


async def head(conn: Connection) -> Record | None:
    """(seq, hash, at) of the chain head."""
    return await _run.fetchrow(conn, "audit_chain_head")


async def installed(conn: Connection) -> bool:
    return bool(await _run.fetchval(conn, "audit_chain_installed"))


def chain(conn: Connection, prefetch: int = 2000) -> AsyncIterator[Record]:
    """Every record with every hashed field, in seq order (inside a transaction)."""
    return _run.stream(conn, "audit_chain_walk", prefetch=prefetch)


async def page(
    pool: Pool,
    *,
    officer: str | None,
    team: str | None,
    case_number: str | None,
    subject_digest: bytes | None,
    batch_id: uuid.UUID | None,
    start: datetime | None,
    end: datetime | None,
    after_seq: int,
    limit: int,
) -> list[Record]:
    """Records matching every given filter with seq > ``after_seq``, in chain order."""
    async with _run.connection(pool) as conn, _run.transaction(conn, readonly=True):
        # A generic plan would keep every "$n IS NULL OR ..." and miss the indexes.
        await _run.execute(conn, "audit_page_custom_plans")
        return await _run.fetch(
            conn, "audit_page", officer, team, case_number, subject_digest, batch_id, start,
            end, after_seq, limit,
        )  # fmt: skip
