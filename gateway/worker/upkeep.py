"""What a dispatcher keeps doing besides asking agencies: renewing its leases, requeueing
the leases of replicas that died, failing what outlived its agency's answer deadline,
exporting this replica's agency figures (breakers, recent errors and latency; the queue's
figures are cluster-wide, exported by the leader: ``gateway.accountability.figures``),
storing the inquiries of large lists' later subjects, and listening for new work and
cancellations.

Each is a loop that outlives the database going away: a failed round is logged and tried
again (and ``supervise`` restarts a loop that crashes anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Protocol

import structlog

from gateway.core.errors import DatabaseError
from gateway.core.metrics import Metrics
from gateway.core.settings import Settings
from gateway.store import batches, channels, db, inquiries
from gateway.store.db import Connection, Pool, Record
from gateway.worker.runtime import AgencyRuntime
from gateway.worker.writer import Outcome, ResultWriter

log = structlog.get_logger("gateway.upkeep")

#: inquiries failed at their deadline per query
OVERDUE_CHUNK = 500
NO_ANSWER = "no answer within the deadline"


#: what a large list's first chunk of inquiries is stored with (in its transaction): the
#: submission's checks left for then (``accountability.alerts``); the kinds of alerts raised
FirstChunkCheck = Callable[[Connection, Record, datetime], Awaitable[list[str]]]


class Wake(Protocol):
    """Tells these agencies' claim loops (none named: every loop) to look for work."""

    def __call__(self, *agencies: str) -> None: ...


async def no_check(_conn: Connection, _batch: Record, _now: datetime) -> list[str]:
    return []


def overdue_error(agency: str, last_error: str | None) -> str:
    """What an inquiry that outlived its deadline is failed with (the last error kept)."""
    text = f"{agency}: {NO_ANSWER}"
    return f"{text} (last: {last_error})" if last_error else text


class Upkeep:
    def __init__(
        self,
        pool: Pool,
        owner: str,
        settings: Settings,
        metrics: Metrics,
        writer: ResultWriter,
        agencies: Mapping[str, AgencyRuntime],
        clock: Callable[[], datetime],
        wake: Wake,
        cancel_batch: Callable[[str], object],
        working_on: Callable[[], list[int]],
        batch_finished: Callable[[str], object],
        first_chunk_check: FirstChunkCheck = no_check,
    ) -> None:
        self._pool = pool
        self._owner = owner
        self._settings = settings
        self._metrics = metrics
        self._writer = writer
        self._agencies = agencies
        self._clock = clock
        self._wake = wake
        self._cancel_batch = cancel_batch
        self._working_on = working_on
        self._batch_finished = batch_finished
        self._first_chunk_check = first_chunk_check
        #: told that a batch has subjects whose inquiries are still to be stored
        self._unqueued = asyncio.Event()

    async def keep_leases(self) -> None:
        interval = max(0.2, self._settings.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                async with db.connection(self._pool) as conn:
                    await inquiries.renew_leases(
                        conn, self._owner, self._settings.lease_seconds, self._working_on()
                    )
            except DatabaseError as exc:
                log.warning("lease_renewal_failed", error=type(exc).__name__)

    async def tend_queue(self) -> None:
        """Requeue dead replicas' leases, fail what is past its deadline, export this
        replica's agency figures."""
        interval = max(0.2, min(self._settings.lease_seconds / 2, 10.0))
        while True:
            try:
                await self._tend_once()
            except DatabaseError as exc:
                log.warning("queue_upkeep_failed", error=type(exc).__name__)
            await asyncio.sleep(interval)

    async def _tend_once(self) -> None:
        now = self._clock()
        async with db.connection(self._pool) as conn:
            reclaimed = await inquiries.reclaim_expired(conn)
            overdue = await inquiries.lease_overdue(
                conn, self._owner, self._settings.lease_seconds, now, OVERDUE_CHUNK
            )
        if reclaimed:
            log.info("leases_reclaimed", count=len(reclaimed))
            agencies = {row["agency"] for row in reclaimed}
            # Every replica's loops: a busy one would otherwise find the work at its poll.
            async with db.connection(self._pool) as conn:
                await batches.notify(conn, channels.QUEUED, channels.agencies_payload(agencies))
        for row in overdue:
            agency = row["agency"]
            error = overdue_error(agency, row["last_error"])
            self._writer.add(Outcome(row["id"], agency, "failed", None, error, row["attempts"]))
            self._metrics.inquiries_overdue.labels(agency).inc()
        if overdue:
            log.info("inquiries_overdue", count=len(overdue))
        for runtime in self._agencies.values():
            runtime.export_metrics(self._metrics)

    async def queue_subjects(self) -> None:
        """Store the inquiries of submitted lists' remaining subjects, a chunk per
        transaction, oldest batch first, until none is left; then wait to be told of
        another, or look again after a while (a replica may have died half-way)."""
        interval = max(0.2, min(self._settings.lease_seconds / 2, 10.0))
        while True:
            self._unqueued.clear()
            try:
                while await self._queue_chunk():
                    pass
            except DatabaseError as exc:
                log.warning("subject_queueing_failed", error=type(exc).__name__)
            # asyncio.timeout, not wait_for: Python 3.11's wait_for swallows a cancellation
            # that comes as the event is set, and the loop would then outlive its dispatcher
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._unqueued.wait()

    async def _queue_chunk(self) -> bool:
        """One chunk of one batch; False when no batch has subjects left to queue."""
        raised: list[str] = []
        async with db.transaction_on(self._pool) as conn:
            batch = await batches.queue_chunk(
                conn, batches.QUEUE_CHUNK, self._settings.answer_deadlines
            )
            if batch is not None and batch["first_chunk"]:
                raised = await self._checked(conn, batch)
            if batch is not None and batch["status"] in ("queued", "running"):
                await batches.notify(
                    conn, channels.QUEUED, channels.agencies_payload(batch["agencies"])
                )
        for kind in raised:
            self._metrics.alerts.labels(kind).inc()
        return batch is not None

    async def _checked(self, conn: Connection, batch: Record) -> list[str]:
        """The checks left for the first chunk, in a savepoint: an alert never blocks, so
        one that fails is logged and the chunk goes on."""
        try:
            async with db.transaction(conn):
                return await self._first_chunk_check(conn, batch, self._clock())
        except DatabaseError as exc:
            log.warning("first_chunk_check_failed", error=type(exc).__name__)
            return []

    def _queued(self, payload: str) -> None:
        self._wake(*(channels.payload_agencies(payload) or ()))

    async def listen(self) -> None:
        """LISTEN for new work, cancellations and batches finished by any replica; listen
        again when the connection is lost.
        The claim loops also poll, so a missed notification only delays work."""
        handlers: dict[str, channels.Handler] = {
            channels.QUEUED: self._queued,
            channels.CANCELLED: self._cancel_batch,
            channels.FINISHED: self._batch_finished,
            channels.UNQUEUED: lambda _payload: self._unqueued.set(),
        }
        # Listen again soon after a loss, then less and less often while the database stays
        # away (the claim loops poll meanwhile), and soon again once it listened.
        pause, lost_before = 0.1, False
        while True:
            try:
                async with channels.listening(self._pool, handlers) as lost:
                    if lost_before:
                        log.info("listener_resumed")
                    pause, lost_before = 0.1, False
                    self._wake()  # anything queued while we were not listening
                    self._unqueued.set()
                    await lost.wait()
                log.warning("listener_lost")
            except DatabaseError as exc:
                log.warning("listener_lost", error=type(exc).__name__, retry_in=pause)
            lost_before = True
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)
