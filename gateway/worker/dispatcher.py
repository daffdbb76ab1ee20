"""The dispatcher: claims due inquiries under a lease, asks the agencies, records answers.

Every agency has its own claim loop, so all requested agencies are worked in parallel, each
within its own limits (held across replicas: gateway/worker/limits.py). Claimed inquiries are
leased, not owned: ``Upkeep`` renews this worker's leases, and any worker requeues leases
that expired because their holder died. Answers go to the ``ResultWriter``, which records
each at most once.

An inquiry is failed only by a permanent refusal or when its agency's answer deadline passes
(``GATEWAY_AGENCY_<NAME>_ANSWER_DEADLINE``); until then a transient failure, an open breaker
or a spent retry budget gives it back to the queue with a capped exponential backoff and its
last error (shown as ``waiting``). While an agency's breaker is open its claim loop claims
nothing, so its inquiries wait while the other agencies go on at full speed; half-open, it
claims one probe at a time. Every loop is supervised: one that crashes is logged and
restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import structlog

from connectors.base import Connector
from gateway.core.errors import DatabaseError
from gateway.core.metrics import Metrics
from gateway.core.settings import Settings
from gateway.store import batches, db, inquiries
from gateway.store.crypto import DataCipher
from gateway.store.db import Pool
from gateway.worker.breaker import BreakerState
from gateway.worker.calls import AgencyCaller, CallResult
from gateway.worker.claims import Claimed, claimed_from_rows, outcome
from gateway.worker.global_limits import GlobalLimits
from gateway.worker.runtime import AgencyRuntime, build_runtimes, due_now
from gateway.worker.supervise import spawn
from gateway.worker.upkeep import FirstChunkCheck, Upkeep, no_check, overdue_error
from gateway.worker.writer import Outcome, Requeue, ResultWriter

log = structlog.get_logger("gateway.dispatcher")

#: inquiries held per agency (claimed, not yet ended), in calls that may run at once: what
#: runs, and a reserve that keeps the calls going while a claim waits its turn for the audit
#: chain (each claim appends to it: 20 ms under load, 100 ms while a large list is queued)
CLAIM_AHEAD = 4
#: at stop, how long the last answers may wait for a database that is away or does not
#: answer: within the slack Kubernetes' grace period leaves after the drain (deploy/k8s:
#: 40 s - 5 - 20), with the hand-back below
LAST_WRITE_SECONDS = 10.0
#: then, how long handing back its leases and its agency permits may take
HAND_BACK_SECONDS = 2.0


def utcnow() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    def __init__(
        self,
        pool: Pool,
        connectors: Mapping[str, Connector],
        settings: Settings,
        metrics: Metrics,
        cipher: DataCipher,
        clock: Callable[[], datetime] = utcnow,
        first_chunk_check: FirstChunkCheck = no_check,
    ) -> None:
        self._pool = pool
        #: the time answer deadlines are judged by; tests inject their own
        self.clock = clock
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
            on_settled=self._settled,
            expected=lambda: len(self._leased),
        )
        self._finish_waiters: dict[str, list[asyncio.Future[None]]] = defaultdict(list)
        self._wake = {name: asyncio.Event() for name in connectors}
        self._held = dict.fromkeys(connectors, 0)
        self._tasks_by_batch: dict[str, set[asyncio.Task[None]]] = defaultdict(set)
        self._background: list[asyncio.Task[None]] = []
        self._claims: list[asyncio.Task[None]] = []
        self._stopped = False
        self._upkeep: set[asyncio.Task[None]] = set()
        #: inquiries claimed here whose outcome is not yet written: the leases to keep
        self._leased: set[int] = set()
        self.limits = GlobalLimits(pool, self.owner, settings.agencies, settings, metrics)
        self.agencies: dict[str, AgencyRuntime] = build_runtimes(
            connectors, settings, metrics, self.limits.gates, self._breaker_moved
        )
        self._connectors = {name: rt.connector for name, rt in self.agencies.items()}
        self.upkeep = Upkeep(
            pool,
            self.owner,
            settings,
            metrics,
            self.writer,
            self.agencies,
            lambda: self.clock(),
            self.wake,
            self.cancel_batch,
            lambda: list(self._leased),
            lambda batch_id: self._batches_finished([batch_id]),
            first_chunk_check,
        )

    @property
    def callers(self) -> dict[str, AgencyCaller]:
        return {name: runtime.caller for name, runtime in self.agencies.items()}

    def health(self) -> dict[str, dict[str, object]]:
        """Per agency, this replica's breaker, budget, permits and recent calls."""
        return {name: runtime.health() for name, runtime in self.agencies.items()}

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self.limits.start()
        self._background = [
            spawn("result-writer", self.writer.run),
            spawn("lease-keeper", self.upkeep.keep_leases),
            spawn("queue-upkeep", self.upkeep.tend_queue),
            spawn("notify-listener", self.upkeep.listen),
            spawn("subject-queuer", self.upkeep.queue_subjects),
        ]
        self._claims = [
            spawn(f"claim-{name}", lambda name=name: self._agency_loop(name))
            for name in self._connectors
        ]
        log.info("dispatcher_started", owner=self.owner, agencies=list(self._connectors))

    async def drain(self, seconds: float) -> None:
        """Stop claiming; let the work already claimed here end for up to ``seconds`` (its
        calls, and their retries within the deadline, answered and recorded); then ``stop``:
        whatever is left is handed back to the queue at once, so no other replica waits for
        a lease to expire."""
        for task in self._claims:
            task.cancel()
        await asyncio.gather(*self._claims, return_exceptions=True)
        work = [t for tasks in self._tasks_by_batch.values() for t in tasks]
        log.info("dispatcher_draining", in_flight=len(work), seconds=seconds)
        if work and seconds > 0:
            await asyncio.wait(work, timeout=seconds)
        await self.stop()

    async def stop(self) -> None:
        """Stop at once: no new claims, in-flight calls cancelled, answers so far recorded,
        and the rest handed back to the queue for the next worker."""
        if self._stopped or not self._background:  # stopped already, or never started
            self._stopped = True
            return
        self._stopped = True
        writer_task, *others = self._background
        others += self._claims
        for task in [*others, *self._upkeep]:
            task.cancel()
        work = [t for tasks in self._tasks_by_batch.values() for t in tasks]
        for task in work:
            task.cancel()
        await asyncio.gather(*others, *self._upkeep, *work, return_exceptions=True)
        writer_task.cancel()
        await asyncio.gather(writer_task, return_exceptions=True)
        await self.writer.close(within=LAST_WRITE_SECONDS)
        # What is not handed back runs out by itself (leases, permits): worth a few seconds
        # of a database that does not answer, not the rest of the grace period.
        try:
            async with asyncio.timeout(HAND_BACK_SECONDS):
                with contextlib.suppress(DatabaseError):
                    async with db.connection(self._pool) as conn:
                        await inquiries.release_leases(conn, self.owner)
        except TimeoutError:
            log.warning("leases_not_handed_back", seconds=HAND_BACK_SECONDS)
        await self.limits.stop(within=HAND_BACK_SECONDS)
        log.info("dispatcher_stopped", owner=self.owner)

    def wake(self, *agencies: str) -> None:
        """Tell these agencies' claim loops (none named: every loop) to look for work."""
        for name, event in self._wake.items():
            if not agencies or name in agencies:
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
        """Until the batch is done or cancelled (an event, not a poll: this replica's writer,
        or another replica's notification, says so)."""
        waiter = asyncio.get_running_loop().create_future()
        self._finish_waiters[batch_id].append(waiter)
        async with db.connection(self._pool) as conn:
            status = await batches.status(conn, batch_id)
        if status in ("done", "cancelled"):
            self._batches_finished([batch_id])
        await waiter
        # The commit that finished it may be seen (by the query above, or another replica's
        # notice) before this replica's writer has counted its answers.
        await self.writer.settled()

    def _batches_finished(self, batch_ids: list[object]) -> None:
        for batch_id in batch_ids:
            for waiter in self._finish_waiters.pop(str(batch_id), []):
                if not waiter.done():
                    waiter.set_result(None)

    # -- claiming and working -----------------------------------------------------------------

    async def _agency_loop(self, agency: str) -> None:
        runtime = self.agencies[agency]
        connector, breaker = runtime.connector, runtime.breaker
        # Claim ahead, and in chunks (half the room, or the whole reserve if less) so that
        # claims stay few: a claim is a transaction, and claims of 16 were half of the
        # gateway's transactions. The reserve is bounded: a new batch's share waits behind it.
        at_once = max(1, runtime.max_calls * connector.max_group)
        capacity = min(CLAIM_AHEAD * at_once, at_once + 2 * self._settings.claim_chunk)
        least = max(1, min(capacity // 2, capacity - at_once))
        wake = self._wake[agency]
        backoff = 0.1
        while True:
            wake.clear()
            held = self._held[agency]
            timeout = self._settings.poll_seconds
            state = breaker.state
            if state is BreakerState.OPEN:
                # Claim nothing: the agency's inquiries wait in the queue, unattempted.
                room = 0
                timeout = min(timeout, max(breaker.retry_in(), 0.01))
            elif state is BreakerState.HALF_OPEN:
                room = 1 if held == 0 and not breaker.probe_in_progress() else 0
            else:
                room = capacity - held
                if room < least and held > 0:
                    room = 0
            claimed, more = list[Claimed](), False
            if room > 0:
                try:
                    claimed, more = await self._claim(agency, min(room, self._settings.claim_chunk))
                    backoff = 0.1
                except DatabaseError as exc:
                    log.warning("claim_failed", agency=agency, error=type(exc).__name__)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
            if claimed:
                self._start_work(agency, connector, claimed)
            if more:
                continue
            # Nothing more due: wait for news (none is lost: cleared before the claim) or the poll.
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
            # that coincides with the event, and stop() would then wait forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await wake.wait()

    def _breaker_moved(self, agency: str, state: BreakerState) -> None:
        if state is BreakerState.CLOSED:
            # Back: what waited for it (put off until a probe time, or by the retry budget
            # during the outage) is due now, not at the delays chosen while it was down.
            task = asyncio.get_running_loop().create_task(due_now(self._pool, agency, self.wake))
            self._upkeep.add(task)
            task.add_done_callback(self._upkeep.discard)
        self.wake(agency)

    def _settled(self, inquiry_ids: list[int]) -> None:
        self._leased.difference_update(inquiry_ids)

    def _requeued(self, due: dict[str, float]) -> None:
        """Requeued work is due again after its delay: look then, not at the next poll."""
        loop = asyncio.get_running_loop()
        for agency, delay in due.items():
            loop.call_later(delay + 0.005, self.wake, agency)

    async def _claim(self, agency: str, limit: int) -> tuple[list[Claimed], bool]:
        """The claimed inquiries, and whether more may be due (full, or a share filled)."""
        async with db.connection(self._pool) as conn:
            started = time.perf_counter()
            rows = await inquiries.claim(
                conn, agency, limit, self.owner, self._settings.lease_seconds
            )
            took = time.perf_counter() - started
        self._metrics.claim_seconds.labels(agency=agency).observe(took)
        self._leased.update(row["id"] for row in rows)
        share = rows[0]["share"] if rows else limit
        filled = max(Counter(r["batch_id"] for r in rows).values(), default=0) >= share
        more = len(rows) == limit or filled
        claimed = claimed_from_rows(rows, agency, self._cipher)
        return claimed, more

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
                ids = [item.inquiry_id for item in group]
                task.add_done_callback(self._work_done(agency, batch_id, ids))

    def _work_done(
        self, agency: str, batch_id: str, ids: list[int]
    ) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            self._held[agency] -= len(ids)
            tasks = self._tasks_by_batch.get(batch_id)
            if tasks is not None:
                tasks.discard(task)
                if not tasks:
                    del self._tasks_by_batch[batch_id]
            self._wake[agency].set()
            if task.cancelled() or task.exception() is not None:
                # No outcome reaches the writer: stop renewing, so the lease runs out (or the
                # batch was cancelled and the rows are no longer leased at all).
                self._leased.difference_update(ids)
            if not task.cancelled() and task.exception() is not None:
                log.error("work_failed", agency=agency, error=repr(task.exception()))

        return done

    async def _work(self, agency: str, group: list[Claimed]) -> None:
        requester = group[0].requester
        prior = max(item.prior_attempts for item in group)
        try:
            result = await self.agencies[agency].caller.call(
                [c.subject for c in group], requester, prior
            )
        except Exception:
            # A connector bug must not lose the inquiry or kill the loop: record a failure.
            # (The line's exception field names the error's type.)
            log.exception("connector_crashed", agency=agency, batch_id=requester.batch_id)
            result = CallResult(None, f"{agency}: internal error in connector", 1)
        if result.defer is not None:
            self._metrics.deferred.labels(agency, result.defer_reason or "").inc(len(group))
            now = self.clock()
            for item in group:
                attempts = item.prior_attempts + result.attempts
                if now >= item.answer_deadline:
                    error = overdue_error(agency, result.error)
                    self._metrics.inquiries_overdue.labels(agency).inc()
                    self.writer.add(
                        Outcome(item.inquiry_id, agency, "failed", None, error, attempts)
                    )
                    continue
                # Never wait past the deadline: it is judged then.
                delay = min(result.defer, (item.answer_deadline - now).total_seconds())
                self.writer.requeue(Requeue(item.inquiry_id, agency, attempts, delay, result.error))
            return
        for index, item in enumerate(group):
            self.writer.add(outcome(agency, item, result, index))
