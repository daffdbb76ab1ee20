"""Admission policy: what must hold before a batch is accepted (the seam for the rules of
the Accountability issue: filed cases, quotas, re-query windows, approvals, risk alerts).

``admit`` runs inside the submission transaction, before anything is written: it raises
``Forbidden`` to intercept a request, or returns the status the new batch starts in.
``after_submit`` runs in the same transaction once the batch is stored (alerts go here).
"""

from __future__ import annotations

import uuid

import asyncpg

from gateway.auth import Caller
from gateway.validation import BatchRequest


async def admit(conn: asyncpg.Connection, caller: Caller, request: BatchRequest) -> str:
    """The status the batch starts in ("queued"), or raise ``Forbidden`` with a reason."""
    return "queued"


async def after_submit(
    conn: asyncpg.Connection, caller: Caller, batch_id: uuid.UUID, request: BatchRequest
) -> None:
    """Record anything the submission should flag; never blocks it."""
