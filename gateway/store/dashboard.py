"""What the command centre's wall page reads: completions per minute, open batches and their
progress, overdue inquiries. Nothing here reads personal data."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from gateway.store import _run
from gateway.store._run import Connection, Record


async def completed_per_minute(conn: Connection, since: datetime) -> list[Record]:
    """(agency, minute as epoch seconds, completed)."""
    return await _run.fetch(conn, "completed_per_minute", since)


async def open_batches(conn: Connection, statuses: Sequence[str], limit: int) -> list[Record]:
    """Batches in these statuses (of held, queued, running), newest first."""
    return await _run.fetch(conn, "open_batches", limit, list(statuses))


async def batches_progress(conn: Connection, batch_ids: Sequence[uuid.UUID]) -> list[Record]:
    """(batch_id, agency, total, done, failed, waiting)."""
    return await _run.fetch(conn, "batches_progress", list(batch_ids))


async def overdue_per_agency(conn: Connection, since: datetime) -> dict[str, int]:
    rows = await _run.fetch(conn, "overdue_per_agency", since)
    return {row["agency"]: row["overdue"] for row in rows}
