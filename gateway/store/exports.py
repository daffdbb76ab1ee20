"""A batch's results read out for files (workbooks, CSV): every inquiry, answered or not."""

from __future__ import annotations

import uuid

from gateway.store import _run
from gateway.store._run import Connection, Record


async def page(
    conn: Connection, batch_id: uuid.UUID, after_inquiry: int, limit: int
) -> list[Record]:
    """Up to ``limit`` inquiries after ``after_inquiry`` in subject order, each with its result
    or its state ('waiting', 'pending', 'cancelled'), and its sealed subject."""
    return await _run.fetch(conn, "export_page", batch_id, after_inquiry, limit)
