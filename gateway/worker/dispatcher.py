"""The dispatcher: claims due inquiries under a lease, asks the agencies, records answers.

Every agency has its own claim loop, so all requested agencies are worked in parallel, each
within its own limits (held across replicas: gateway/limits.py). Claimed inquiries are leased,
not owned: a background task renews this worker's leases, and any worker requeues leases that
expired because their holder died. Answers go to the ``ResultWriter``, which records each at
most once.

While an agency's circuit breaker is open its claim loop claims nothing, and work already
claimed is given back to the queue unanswered (no attempt burnt), so its inquiries wait while
the other agencies go on at full speed; half-open, it claims one probe at a time. Inquiries
that wait on an unavailable agency past ``GATEWAY_UNAVAILABLE_AFTER`` fail "agency
unavailable" (re-run with POST /v1/batches/{id}/rerun-unavailable).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog

from connectors.base import Connector, Requester, Subject
from gateway.core.errors import DatabaseError
from gateway.core.metrics import Metrics
from gateway.core.settings import Settings
from gateway.store import batches, channels, db, inquiries
from gateway.store.crypto import DataCipher, subject_context
from gateway.store.db import Pool
from gateway.worker.breaker import BreakerState
from gateway.worker.calls import AgencyCaller, CallResult
from gateway.worker.global_limits import GlobalLimits
from gateway.worker.runtime import AgencyRuntime, build_runtimes, due_now, unavailable
from gateway.worker.writer import Outcome, Requeue, ResultWriter

log = structlog.get_logger("gateway.dispatcher")


@dataclass(frozen=True, slots=True)
class Claimed:
    inquiry_id: int
    batch_id: str
    subject: Subject
    requester: Requester
    prior_attempts: int


class Dispatcher:
    def __init__(
        self,
        pool: Pool,
        connectors: Mapping[str, Connector],
        settings: Settings,
        metrics: Metrics,
        cipher: DataCipher,
    ) -> None:
        self._pool = pool
        self._cipher = cipher
        self._settings = settings
        self._metrics = metrics
        self.owner = f"{settings.worker_id}:{uuid.uuid4().hex[:8]}"
        self.writer = ResultWriter(
            pool,
            self.owner,
            metrics,
            cipher,
            flush_size=settings.flush_size,
            flush_seconds=settings.flush_seconds,
            on_finished=self._batches_finished,
            on_requeued=self._requeued,
        )
        self._finish_waiters: dict[str, list[asyncio.Future[None]]] = defaultdict(list)
        self._wake = {name: asyncio.Event() for name in connectors}
        self._held = dict.fromkeys(connectors, 0)
        self._tasks_by_batch: dict[str, set[asyncio.Task[None]]] = defaultdict(set)
        self._background: list[asyncio.Task[None]] = []
        self._next_sweep = dict.fromkeys(connectors, 0.0)
        self._upkeep: set[asyncio.Task[None]] = set()
        self.limits = GlobalLimits(pool, self.owner, settings.agencies, settings, metrics)
        self.agencies: dict[str, AgencyRuntime] = build_runtimes(
            connectors, settings, metrics, self.limits.gates, self._breaker_moved
        )
        self._connectors = {name: rt.connector for name, rt in self.agencies.items()}

    @property
    def callers(self) -> dict[str, AgencyCaller]:
        return {name: runtime.caller for name, runtime in self.agencies.items()}

    def health(self) -> dict[str, dict[str, object]]:
        """Per agency, this replica's breaker, budget, permits and recent calls."""
        return {name: runtime.health() for name, runtime in self.agencies.items()}

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self.limits.start()
        spawn = asyncio.get_running_loop().create_task
        self._background = [
            spawn(self.writer.run(), name="result-writer"),
            spawn(self._keep_leases(), name="lease-keeper"),
            spawn(self._reclaim_expired(), name="lease-reclaimer"),
            spawn(self._listen(), name="notify-listener"),
            *(spawn(self._agency_loop(name), name=f"claim-{name}") for name in self._connectors),
        ]
        log.info("dispatcher_started", owner=self.owner, agencies=list(self._connectors))

    async def stop(self) -> None:
        """Stop at once: no new claims, in-flight calls cancelled, answers so far recorded,
        and the rest handed back to the queue for the next worker."""
        writer_task, *others = self._background
        for task in [*others, *self._upkeep]:
            task.cancel()
        work = [t for tasks in self._tasks_by_batch.values() for t in tasks]
        for task in work:
            task.cancel()
        await asyncio.gather(*others, *self._upkeep, *work, return_exceptions=True)
        writer_task.cancel()
        await asyncio.gather(writer_task, return_exceptions=True)
        with contextlib.suppress(DatabaseError):
            await self.writer.close()
            async with db.connection(self._pool) as conn:
                await inquiries.release_leases(conn, self.owner)
        await self.limits.stop()
        log.info("dispatcher_stopped", owner=self.owner)

    def wake(self, agency: str | None = None) -> None:
        for name, event in self._wake.items():
            if agency is None or agency == name:
                event.set()

    def cancel_batch(self, batch_id: str) -> int:
        """Cancel this process's in-flight calls for a cancelled batch; no retry follows."""
        self._batches_finished([batch_id])
        tasks = list(self._tasks_by_batch.get(batch_id, ()))
        for task in tasks:
            task.cancel()  # each leaves _tasks_by_batch when it has ended
        return len(tasks)

    def in_progress(self, batch_id: str) -> int:
        """Tasks of this batch not yet ended here (asking, backing off, or being cancelled)."""
        return len(self._tasks_by_batch.get(batch_id, ()))

    async def wait_finished(self, batch_id: str) -> None:
        """Until the batch is done or cancelled (an event, not a poll)."""
        waiter = asyncio.get_running_loop().create_future()
        self._finish_waiters[batch_id].append(waiter)
        async with db.connection(self._pool) as conn:
            status = await batches.status(conn, batch_id)
        if status in ("done", "cancelled"):
            self._batches_finished([batch_id])
        await waiter

    def _batches_finished(self, batch_ids: list[object]) -> None:
        for batch_id in batch_ids:
            for waiter in self._finish_waiters.pop(str(batch_id), []):
                if not waiter.done():
                    waiter.set_result(None)

    # -- claiming and working -----------------------------------------------------------------

    async def _agency_loop(self, agency: str) -> None:
        runtime = self.agencies[agency]
        connector, breaker = runtime.connector, runtime.breaker
        # Claim ahead (twice what may run at once) so the next calls need not wait for a
        # claim, but claim in chunks (at least half the room) so claims stay few.
        capacity = max(2, 2 * runtime.max_calls * connector.max_group)
        wake = self._wake[agency]
        backoff = 0.1
        while True:
            wake.clear()
            held = self._held[agency]
            timeout = self._settings.poll_seconds
            state = breaker.state
            if state is not BreakerState.CLOSED:
                await self._sweep_unavailable(agency)
            if state is BreakerState.OPEN:
                # Claim nothing: the agency's inquiries wait in the queue, unattempted.
                room = 0
                timeout = min(timeout, max(breaker.retry_in(), 0.01))
            elif state is BreakerState.HALF_OPEN:
                room = 1 if held == 0 and not breaker.probe_in_progress() else 0
            else:
                room = capacity - held
                if room < capacity // 2 and held > 0:
                    room = 0
            claimed: list[Claimed] = []
            if room > 0:
                try:
                    claimed = await self._claim(agency, min(room, self._settings.claim_chunk))
                    backoff = 0.1
                except DatabaseError as exc:
                    log.warning("claim_failed", agency=agency, error=type(exc).__name__)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
            if claimed:
                self._start_work(agency, connector, claimed)
                continue
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
            # that coincides with the event, and stop() would then wait forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await wake.wait()

    async def _sweep_unavailable(self, agency: str) -> None:
        """Fail what waited on an unavailable agency past the deadline (once a second)."""
        waited = self.agencies[agency].breaker.unavailable_for()
        deadline = self._settings.unavailable_after
        now = asyncio.get_running_loop().time()
        if waited is None or waited < deadline or now < self._next_sweep[agency]:
            return
        self._next_sweep[agency] = now + 1.0
        lease = self._settings.lease_seconds
        for outcome in await unavailable(self._pool, agency, self.owner, lease, waited, deadline):
            self.writer.add(outcome)

    def _breaker_moved(self, agency: str, state: BreakerState) -> None:
        if state is BreakerState.CLOSED:
            # Back: what waited for it (put off until a probe time, or by the retry budget
            # during the outage) is due now, not at the delays chosen while it was down.
            task = asyncio.get_running_loop().create_task(due_now(self._pool, agency, self.wake))
            self._upkeep.add(task)
            task.add_done_callback(self._upkeep.discard)
        self.wake(agency)

    def _requeued(self, due: dict[str, float]) -> None:
        """Requeued work is due again after its delay: look then, not at the next poll."""
        loop = asyncio.get_running_loop()
        for agency, delay in due.items():
            loop.call_later(delay + 0.005, self.wake, agency)

    async def _claim(self, agency: str, limit: int) -> list[Claimed]:
        async with db.connection(self._pool) as conn:
            rows = await inquiries.claim(
                conn, agency, limit, self.owner, self._settings.lease_seconds
            )
        open_text = self._cipher.open_text
        return [
            Claimed(
                inquiry_id=row["id"],
                batch_id=str(row["batch_id"]),
                subject=Subject(
                    open_text(row["name"], subject_context(row["batch_id"], row["row"], "name")),
                    open_text(row["id_number"], subject_context(row["batch_id"], row["row"], "id")),
                    row["kind"],
                ),
                requester=Requester(
                    row["officer"], row["team"], row["case_number"], str(row["batch_id"])
                ),
                prior_attempts=row["attempts"],
            )
            for row in rows
        ]

    def _start_work(self, agency: str, connector: Connector, claimed: list[Claimed]) -> None:
        by_batch: dict[str, list[Claimed]] = defaultdict(list)
        for item in claimed:
            by_batch[item.batch_id].append(item)
        for batch_id, items in by_batch.items():
            step = connector.max_group
            for start in range(0, len(items), step):
                group = items[start : start + step]
                self._held[agency] += len(group)
                task = asyncio.get_running_loop().create_task(self._work(agency, group))
                tasks = self._tasks_by_batch[batch_id]
                tasks.add(task)
                task.add_done_callback(self._work_done(agency, batch_id, len(group)))

    def _work_done(
        self, agency: str, batch_id: str, size: int
    ) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            self._held[agency] -= size
            tasks = self._tasks_by_batch.get(batch_id)
            if tasks is not None:
                tasks.discard(task)
                if not tasks:
                    del self._tasks_by_batch[batch_id]
            self._wake[agency].set()
            if not task.cancelled() and task.exception() is not None:
                log.error("work_failed", agency=agency, error=repr(task.exception()))

        return done

    async def _work(self, agency: str, group: list[Claimed]) -> None:
        requester = group[0].requester
        structlog.contextvars.bind_contextvars(batch_id=requester.batch_id, agency=agency)
        prior = max(item.prior_attempts for item in group)
        try:
            result = await self.agencies[agency].caller.call(
                [c.subject for c in group], requester, prior
            )
        except Exception as exc:
            # A connector bug must not lose the inquiry or kill the loop: record a failure.
            log.exception("connector_crashed", error=type(exc).__name__)
            result = CallResult(None, f"{agency}: internal error in connector", 1)
        if result.defer is not None:
            self._metrics.deferred.labels(agency, result.defer_reason or "").inc(len(group))
            for item in group:
                attempts = item.prior_attempts + result.attempts
                self.writer.requeue(Requeue(item.inquiry_id, agency, attempts, result.defer))
            return
        for index, item in enumerate(group):
            self.writer.add(_outcome(agency, item, result, index))

    # -- background upkeep --------------------------------------------------------------------

    async def _keep_leases(self) -> None:
        interval = max(0.2, self._settings.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                async with db.connection(self._pool) as conn:
                    await inquiries.renew_leases(conn, self.owner, self._settings.lease_seconds)
            except DatabaseError as exc:
                log.warning("lease_renewal_failed", error=type(exc).__name__)

    async def _reclaim_expired(self) -> None:
        interval = max(0.2, min(self._settings.lease_seconds / 2, 10.0))
        while True:
            try:
                async with db.connection(self._pool) as conn:
                    rows = await inquiries.reclaim_expired(conn)
                    depth = await inquiries.queue_depth(conn)
                if rows:
                    log.info("leases_reclaimed", count=len(rows))
                    for agency in {row["agency"] for row in rows}:
                        self.wake(agency)
                for runtime in self.agencies.values():
                    runtime.export_metrics(self._metrics)
                self._metrics.queue_depth.clear()
                for row in depth:
                    self._metrics.queue_depth.labels(row["agency"], "queued").set(row["queued"])
                    self._metrics.queue_depth.labels(row["agency"], "leased").set(row["leased"])
            except DatabaseError as exc:
                log.warning("lease_reclaim_failed", error=type(exc).__name__)
            await asyncio.sleep(interval)

    async def _listen(self) -> None:
        """LISTEN for new work and cancellations; reconnect if the database restarts.
        The claim loops also poll, so a missed notification only delays work."""
        while True:
            try:
                await self._listen_once()
            except DatabaseError as exc:
                log.warning("listener_lost", error=type(exc).__name__)
            await asyncio.sleep(1.0)

    async def _listen_once(self) -> None:
        handlers: dict[str, channels.Handler] = {
            channels.QUEUED: lambda _payload: self.wake(),
            channels.CANCELLED: self.cancel_batch,
        }
        async with channels.listening(self._pool, handlers) as lost:
            self.wake()  # anything queued while we were not listening
            await lost.wait()


def _outcome(agency: str, item: Claimed, result: CallResult, index: int) -> Outcome:
    attempts = item.prior_attempts + result.attempts
    if result.answers is None:
        return Outcome(item.inquiry_id, agency, "failed", None, result.error, attempts)
    answer = result.answers[index]
    data = answer.to_json()
    status = "not_found" if data is None else "found"
    return Outcome(item.inquiry_id, agency, status, data, None, attempts)
