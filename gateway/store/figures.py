"""The cluster-wide figures the leader exports as metrics, counted from the durable records
(waiting inquiries are in ``inquiries``, the audit chain's head in ``audit``)."""

from __future__ import annotations

from gateway.store import _run
from gateway.store._run import Connection, Record


async def queue_depth(conn: Connection) -> list[Record]:
    """(agency, queued, leased, held) for agencies with unanswered inquiries; held: their
    batch awaits approval."""
    return await _run.fetch(conn, "figures_queue_depth")


async def batches_by_status(conn: Connection) -> dict[str, int]:
    """Batches per status, every batch ever submitted."""
    rows = await _run.fetch(conn, "figures_batches_by_status")
    return {row["status"]: row["batches"] for row in rows}


async def detentions_assisted(conn: Connection) -> int:
    """Police results found: the station took the request for detention assistance."""
    return int(await _run.fetchval(conn, "figures_detentions_assisted"))
