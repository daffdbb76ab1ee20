"""The dispatcher: claims due inquiries under a lease, asks the agencies, records answers.

Every agency has its own claim loop, so all requested agencies are worked in parallel, each
within its own concurrency limit. Claimed inquiries are leased, not owned: a background task
renews this worker's leases, and any worker requeues leases that expired because their holder
died. Answers go to the ``ResultWriter``, which records each at most once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg
import structlog

from connectors.base import Connector, Requester, Subject
from gateway import channels
from gateway.calls import AgencyCaller, CallResult, FullJitterBackoff
from gateway.crypto import DataCipher, subject_context
from gateway.metrics import Metrics
from gateway.queries import sql
from gateway.settings import Settings
from gateway.writer import RETRYABLE_DB_ERRORS, Outcome, ResultWriter

log = structlog.get_logger("gateway.dispatcher")

DB_ERRORS = (*RETRYABLE_DB_ERRORS, asyncpg.PostgresError)


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
        pool: asyncpg.Pool,
        connectors: Mapping[str, Connector],
        settings: Settings,
        metrics: Metrics,
        cipher: DataCipher,
    ) -> None:
        self._pool = pool
        self._cipher = cipher
        self._connectors = connectors
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
        )
        self._finish_waiters: dict[str, list[asyncio.Future[None]]] = defaultdict(list)
        self._wake = {name: asyncio.Event() for name in connectors}
        self._held = dict.fromkeys(connectors, 0)
        self._tasks_by_batch: dict[str, set[asyncio.Task[None]]] = defaultdict(set)
        self._background: list[asyncio.Task[None]] = []
        self.callers = {
            name: AgencyCaller(
                connector=connector,
                slots=asyncio.Semaphore(settings.agencies[name].max_in_flight),
                metrics=metrics,
                max_attempts=settings.max_attempts,
                backoff=FullJitterBackoff(
                    settings.backoff_base, settings.backoff_cap, random.Random()
                ),
            )
            for name, connector in connectors.items()
        }

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
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
        for task in others:
            task.cancel()
        work = [t for tasks in self._tasks_by_batch.values() for t in tasks]
        for task in work:
            task.cancel()
        await asyncio.gather(*others, *work, return_exceptions=True)
        writer_task.cancel()
        await asyncio.gather(writer_task, return_exceptions=True)
        with contextlib.suppress(*DB_ERRORS):
            await self.writer.close()
            async with self._pool.acquire() as conn:
                await conn.execute(
                    "UPDATE inquiries SET state = 'queued', lease_owner = NULL, "
                    "lease_expires_at = NULL WHERE state = 'leased' AND lease_owner = $1",
                    self.owner,
                )
        log.info("dispatcher_stopped", owner=self.owner)

    def wake(self, agency: str | None = None) -> None:
        for name, event in self._wake.items():
            if agency is None or agency == name:
                event.set()

    def cancel_batch(self, batch_id: str) -> int:
        """Cancel this process's in-flight calls for a cancelled batch; no retry follows."""
        self._batches_finished([batch_id])
        tasks = self._tasks_by_batch.pop(batch_id, set())
        for task in tasks:
            task.cancel()
        return len(tasks)

    async def wait_finished(self, batch_id: str) -> None:
        """Until the batch is done or cancelled (an event, not a poll)."""
        waiter = asyncio.get_running_loop().create_future()
        self._finish_waiters[batch_id].append(waiter)
        async with self._pool.acquire() as conn:
            status = await conn.fetchval("SELECT status FROM batches WHERE id = $1", batch_id)
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
        connector = self._connectors[agency]
        in_flight = self._settings.agencies[agency].max_in_flight
        # Claim ahead (twice what can be in flight) so the next calls need not wait for a
        # claim, but claim in chunks (at least half the room) so claims stay few.
        capacity = max(2, 2 * in_flight * connector.max_group)
        wake = self._wake[agency]
        backoff = 0.1
        while True:
            wake.clear()
            room = capacity - self._held[agency]
            claimed: list[Claimed] = []
            if room >= capacity // 2 or self._held[agency] == 0:
                try:
                    claimed = await self._claim(agency, min(room, self._settings.claim_chunk))
                    backoff = 0.1
                except DB_ERRORS as exc:
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
                async with asyncio.timeout(self._settings.poll_seconds):
                    await wake.wait()

    async def _claim(self, agency: str, limit: int) -> list[Claimed]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                sql("claim_inquiries"), agency, limit, self.owner, self._settings.lease_seconds
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

    def _work_done(self, agency: str, batch_id: str, size: int):  # type: ignore[no-untyped-def]
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
        try:
            result = await self.callers[agency].call([c.subject for c in group], requester)
        except Exception as exc:
            # A connector bug must not lose the inquiry or kill the loop: record a failure.
            log.exception("connector_crashed", error=type(exc).__name__)
            result = CallResult(None, f"{agency}: internal error in connector", 1)
        for index, item in enumerate(group):
            self.writer.add(_outcome(agency, item, result, index))

    # -- background upkeep --------------------------------------------------------------------

    async def _keep_leases(self) -> None:
        interval = max(0.2, self._settings.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                async with self._pool.acquire() as conn:
                    await conn.execute(
                        sql("renew_leases"), self.owner, self._settings.lease_seconds
                    )
            except DB_ERRORS as exc:
                log.warning("lease_renewal_failed", error=type(exc).__name__)

    async def _reclaim_expired(self) -> None:
        interval = max(0.2, min(self._settings.lease_seconds / 2, 10.0))
        while True:
            try:
                async with self._pool.acquire() as conn:
                    rows = await conn.fetch(sql("reclaim_expired_leases"))
                    depth = await conn.fetch(sql("queue_depth"))
                if rows:
                    log.info("leases_reclaimed", count=len(rows))
                    for agency in {row["agency"] for row in rows}:
                        self.wake(agency)
                self._metrics.queue_depth.clear()
                for row in depth:
                    self._metrics.queue_depth.labels(row["agency"], "queued").set(row["queued"])
                    self._metrics.queue_depth.labels(row["agency"], "leased").set(row["leased"])
            except DB_ERRORS as exc:
                log.warning("lease_reclaim_failed", error=type(exc).__name__)
            await asyncio.sleep(interval)

    async def _listen(self) -> None:
        """LISTEN for new work and cancellations; reconnect if the database restarts.
        The claim loops also poll, so a missed notification only delays work."""
        while True:
            try:
                await self._listen_once()
            except DB_ERRORS as exc:
                log.warning("listener_lost", error=type(exc).__name__)
            await asyncio.sleep(1.0)

    async def _listen_once(self) -> None:
        closed = asyncio.Event()
        async with self._pool.acquire() as conn:
            conn.add_termination_listener(lambda _conn: closed.set())

            def on_queued(*_: object) -> None:
                self.wake()

            def on_cancelled(_conn: object, _pid: int, _channel: str, payload: str) -> None:
                self.cancel_batch(payload)

            await conn.add_listener(channels.QUEUED, on_queued)
            await conn.add_listener(channels.CANCELLED, on_cancelled)
            try:
                self.wake()  # anything queued while we were not listening
                await closed.wait()
            finally:
                if not conn.is_closed():
                    await conn.remove_listener(channels.QUEUED, on_queued)
                    await conn.remove_listener(channels.CANCELLED, on_cancelled)


def _outcome(agency: str, item: Claimed, result: CallResult, index: int) -> Outcome:
    attempts = item.prior_attempts + result.attempts
    if result.answers is None:
        return Outcome(item.inquiry_id, agency, "failed", None, result.error, attempts)
    answer = result.answers[index]
    data = answer.to_json()
    status = "not_found" if data is None else "found"
    return Outcome(item.inquiry_id, agency, status, data, None, attempts)
