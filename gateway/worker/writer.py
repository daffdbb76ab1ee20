"""Group commit of results: many agency answers recorded in one transaction.

Each answer is committed together with its audit record and the inquiry's state change, and
only if this worker still holds the inquiry's lease, so a result is never recorded twice. A
found record is sealed, and the assets in it counted (``gateway.core.assets``: the statistics
read the count, never the record), when the answer is added. If
the database is unreachable the answers wait in memory and the flush is retried; if the
process dies first, the leases expire and the inquiries are asked again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from gateway.core.assets import assets_found
from gateway.core.errors import DatabaseUnavailable, TransactionConflict
from gateway.core.metrics import Metrics
from gateway.store import batches, channels, db, inquiries
from gateway.store.crypto import DataCipher, result_context
from gateway.store.db import Pool

log = structlog.get_logger("gateway.writer")

#: errors after which a transaction is worth retrying: the database went away or restarted,
#: or chose this transaction as a deadlock or serialization victim (it rolled back whole)
RETRYABLE_DB_ERRORS = (DatabaseUnavailable, TransactionConflict)
#: the first wait before a group the database refused is tried again (it doubles, to 5 s)
RETRY_DELAY = 0.1


@dataclass(frozen=True, slots=True)
class Outcome:
    inquiry_id: int
    agency: str
    status: str  # found | not_found | failed
    data: Any
    error: str | None
    attempts: int


def not_storable(inquiry_id: int, agency: str, attempts: int) -> Outcome:
    """A failed result for an answer that was received but cannot be stored."""
    error = f"{agency}: the agency's answer could not be stored"
    return Outcome(inquiry_id, agency, "failed", None, error, attempts)


@dataclass(frozen=True, slots=True)
class Requeue:
    """Claimed work given back unanswered (a transient failure, breaker open, retry budget
    spent, a long wait), due again after ``delay`` seconds."""

    inquiry_id: int
    agency: str
    attempts: int
    delay: float
    #: the failure that made it wait (None: nothing failed, keep the last error)
    error: str | None = None


class ResultWriter:
    def __init__(
        self,
        pool: Pool,
        owner: str,
        metrics: Metrics,
        cipher: DataCipher,
        *,
        flush_size: int,
        flush_seconds: float,
        on_finished: Callable[[list[Any]], None] | None = None,
        on_requeued: Callable[[dict[str, float]], None] | None = None,
        on_settled: Callable[[list[int]], None] | None = None,
        expected: Callable[[], int] | None = None,
    ) -> None:
        self._pool = pool
        self._owner = owner
        self._metrics = metrics
        self._cipher = cipher
        self._flush_size = flush_size
        self._flush_seconds = flush_seconds
        self._on_finished = on_finished
        self._on_requeued = on_requeued
        #: told the inquiries whose outcome was written, or dropped: no lease to keep for them
        self._on_settled = on_settled
        #: outcomes this process still expects (claimed here, not yet written): while more
        #: are coming a group waits to fill; when none are, an answer is committed at once
        self._expected = expected
        self._buffer: list[Outcome] = []
        #: per inquiry: its record sealed, and the assets found in it
        self._stored: dict[int, tuple[bytes | None, int | None]] = {}
        self._requeues: list[Requeue] = []
        self._ready = asyncio.Event()
        self._full = asyncio.Event()
        #: no group being written (its commit, then its metrics and callbacks)
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        #: when the oldest answer waiting to be written arrived (time.monotonic)
        self._oldest: float | None = None
        self._retry_delay = RETRY_DELAY

    def add(self, outcome: Outcome) -> None:
        # Sealed now, not in the flush: an answer that cannot be stored (text that is not
        # valid Unicode, say) becomes a failed result here instead of failing its whole group.
        try:
            sealed = self._cipher.seal_json(outcome.data, result_context(outcome.inquiry_id))
        except (TypeError, ValueError) as exc:
            log.warning("answer_not_storable", agency=outcome.agency, error=type(exc).__name__)
            outcome = not_storable(outcome.inquiry_id, outcome.agency, outcome.attempts)
            sealed = None
        assets = assets_found(outcome.agency, outcome.data) if outcome.status == "found" else None
        self._stored[outcome.inquiry_id] = (sealed, assets)
        self._buffer.append(outcome)
        self._arrived()
        if len(self._buffer) >= self._flush_size:
            self._full.set()

    def requeue(self, item: Requeue) -> None:
        """Give an inquiry back to the queue, in the next group commit (lease permitting)."""
        self._requeues.append(item)
        self._arrived()
        if len(self._requeues) >= self._flush_size:
            self._full.set()

    def _arrived(self) -> None:
        if self._oldest is None:
            self._oldest = time.monotonic()
        self._ready.set()
        if not self._more_coming():
            self._full.set()  # nothing else on its way: the group is complete, write it now

    @property
    def pending(self) -> int:
        return len(self._buffer) + len(self._requeues)

    async def run(self) -> None:
        """Group commit that groups only under load (as PostgreSQL's commit_delay applies only
        with commit_siblings busy): an answer with nothing else on its way is committed at
        once; while other answers are coming, a group waits until it is full or its oldest
        answer has waited ``flush_seconds``, also when it gathered during the last commit
        (committing those at once made groups of a few answers under load, a transaction
        each, whose round trips took more of the gateway than the answers)."""
        while True:
            await self._ready.wait()
            if not self._closing and self._more_coming():
                await self._gather()
            await self._write_group()

    async def _gather(self) -> None:
        """Until the group is full or its oldest answer has waited ``flush_seconds``."""
        if self._oldest is None:
            return
        wait = self._flush_seconds - (time.monotonic() - self._oldest)
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._full.wait()

    def _more_coming(self) -> bool:
        if self._expected is None:
            return True
        return self._expected() > len(self._buffer) + len(self._requeues)

    async def flush(self) -> None:
        """Write everything waiting now, group by group."""
        while self._buffer or self._requeues:
            await self._write_group()

    async def _write_group(self) -> None:
        """Write what waits as one group. If the database is away, the group goes back in
        front and waits a growing while: nothing is dropped."""
        group, self._buffer = self._buffer, []
        requeues, self._requeues = self._requeues, []
        oldest, self._oldest = self._oldest, None
        self._ready.clear()
        self._full.clear()
        self._idle.clear()
        try:
            await self._write(group, requeues)
        except asyncio.CancelledError:
            # Stopped mid-write (a shutdown, close's time limit): the group is still ours to
            # write or to count as unwritten. If its commit did get through, writing it again
            # records nothing: only inquiries still leased here are recorded.
            self._put_back(group, requeues, oldest)
            raise
        except RETRYABLE_DB_ERRORS as exc:
            self._put_back(group, requeues, oldest)
            log.warning("result_flush_failed", error=type(exc).__name__, pending=len(group))
            await asyncio.sleep(self._retry_delay)
            self._retry_delay = min(self._retry_delay * 2, 5.0)
            return
        except Exception:
            # A bug, not an outage. The writer must outlive it: this group's leases expire
            # and its inquiries are asked again, so nothing is lost or doubled.
            log.exception("result_flush_dropped", pending=len(group))
        finally:
            self._idle.set()
        self._retry_delay = RETRY_DELAY
        for outcome in group:
            self._stored.pop(outcome.inquiry_id, None)
        if self._on_settled is not None:
            self._on_settled([o.inquiry_id for o in group] + [r.inquiry_id for r in requeues])

    def _put_back(
        self, group: list[Outcome], requeues: list[Requeue], oldest: float | None
    ) -> None:
        self._buffer = group + self._buffer
        self._requeues = requeues + self._requeues
        if oldest is not None:
            self._oldest = oldest if self._oldest is None else min(oldest, self._oldest)
        self._ready.set()

    async def settled(self) -> None:
        """Until no group is being written: what a commit others may already see (a batch
        done) has also been counted and told here."""
        await self._idle.wait()

    async def close(self, within: float) -> None:
        """Write everything waiting, trying for at most ``within`` seconds while the database
        is away. What is still unwritten then is asked again elsewhere once its leases run
        out: delayed, never lost, and the process can exit (a shutdown that waited for the
        database would wait for ever, or be killed with no word of what it held)."""
        self._closing = True
        try:
            async with asyncio.timeout(within):
                await self.flush()
        except TimeoutError:
            log.warning("results_unwritten", pending=self.pending, seconds=within)

    async def _write(self, group: list[Outcome], requeues: list[Requeue]) -> None:
        started = time.perf_counter()
        # One lock order (inquiry id) for every writer makes deadlocks between them rarer.
        group = sorted(group, key=lambda o: o.inquiry_id)
        async with db.transaction_on(self._pool) as conn:
            requeued = []
            if requeues:
                requeued = await inquiries.requeue(
                    conn,
                    [r.inquiry_id for r in requeues],
                    [r.attempts for r in requeues],
                    [r.delay for r in requeues],
                    [r.error for r in requeues],
                    self._owner,
                )
            stored = []
            if group:
                stored = await inquiries.record_results(
                    conn,
                    [o.inquiry_id for o in group],
                    [o.status for o in group],
                    [self._stored[o.inquiry_id][0] for o in group],
                    [o.error for o in group],
                    [o.attempts for o in group],
                    [self._stored[o.inquiry_id][1] for o in group],
                    self._owner,
                )
            batch_ids = list({row["batch_id"] for row in stored})
            finished = await inquiries.finish_batches(conn, batch_ids) if batch_ids else []
            for row in finished:  # told to the other replicas at commit
                await batches.notify(conn, channels.FINISHED, str(row["id"]))
        self._metrics.result_flush_seconds.observe(time.perf_counter() - started)
        for row in stored:
            self._metrics.inquiries_completed.labels(row["agency"], row["status"]).inc(
                row["stored"]
            )
        recorded = sum(row["stored"] for row in stored)
        if recorded < len(group):
            # Leases lost (expired and taken over, or the batch was cancelled): not recorded.
            log.info("results_not_recorded", count=len(group) - recorded)
        if finished and self._on_finished:
            self._on_finished([row["id"] for row in finished])
        if requeued and self._on_requeued:
            # When each agency has work due again (the earliest delay), so it can look then.
            delays = {r.inquiry_id: (r.agency, r.delay) for r in requeues}
            due: dict[str, float] = {}
            for row in requeued:
                agency, wait = delays[row["id"]]
                due[agency] = min(due.get(agency, wait), wait)
            self._on_requeued(due)
