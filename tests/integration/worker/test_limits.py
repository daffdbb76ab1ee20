"""Agency limits held in PostgreSQL: replicas share an in-flight limit fairly, a dead replica's
share comes back, and the shared send schedule spaces requests across replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import asyncpg

from gateway.core.metrics import Metrics
from gateway.core.settings import AgencySettings, Settings
from gateway.worker.global_limits import GlobalLimits
from tests.integration.worker.conftest import until

FAST = Settings.from_env({}).replace(limit_sync_seconds=0.05, limit_lease_seconds=1.0)


def agency(max_in_flight: int, max_rps: float = 0) -> dict[str, AgencySettings]:
    forestry = AgencySettings(
        name="forestry",
        url="http://unused",
        timeout=1.0,
        max_in_flight=max_in_flight,
        max_rps=max_rps,
    )
    return {"forestry": forestry}


@asynccontextmanager
async def replica(
    pool: asyncpg.Pool, owner: str, agencies: dict[str, AgencySettings]
) -> AsyncIterator[GlobalLimits]:
    limits = GlobalLimits(pool, owner, agencies, FAST, Metrics())
    await limits.start()
    try:
        yield limits
    finally:
        await limits.stop()


class Worker:
    """Keeps ``demand`` requests going through one replica's gate, each taking a moment."""

    def __init__(self, limits: GlobalLimits, demand: int, watch: Callable[[], None]) -> None:
        self.gate = limits.gates["forestry"]
        self.tasks = [asyncio.create_task(self._loop(watch)) for _ in range(demand)]

    async def _loop(self, watch: Callable[[], None]) -> None:
        while True:
            await self.gate.enter()
            try:
                watch()
                await asyncio.sleep(0.005)
            finally:
                self.gate.leave(False, 0.0)

    @property
    def in_use(self) -> int:
        return self.gate.permits.in_use

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def test_two_replicas_share_an_in_flight_limit_and_never_exceed_it(
    pool: asyncpg.Pool,
) -> None:
    peak = 0
    workers: list[Worker] = []

    def watch() -> None:
        nonlocal peak
        peak = max(peak, sum(w.in_use for w in workers))

    async with replica(pool, "a", agency(6)) as a, replica(pool, "b", agency(6)) as b:
        first = Worker(a, demand=8, watch=watch)
        workers.append(first)
        await until(lambda: _true(first.in_use == 6))  # alone, it gets the whole limit
        second = Worker(b, demand=8, watch=watch)
        workers.append(second)
        # Both busy: the shares settle at half each.
        await until(lambda: _true(second.gate.permits.held == 3 and first.gate.permits.held == 3))
        await until(lambda: _true(second.in_use == 3))
        async with pool.acquire() as conn:
            held = await conn.fetchval("SELECT sum(held) FROM agency_permits")
        assert held <= 6
        await second.stop()
        # The second one is idle now: the first takes the whole limit back.
        await until(lambda: _true(first.gate.permits.held == 6))
        await first.stop()
    assert peak <= 6


async def test_a_dead_replica_share_comes_back_when_its_lease_runs_out(
    pool: asyncpg.Pool,
) -> None:
    dead = GlobalLimits(pool, "dead", agency(4), FAST, Metrics())
    await dead.start()
    for _ in range(4):
        await dead.gates["forestry"].enter()
    for task in dead._tasks:  # it dies: no more renewals, and nothing handed back
        task.cancel()
    async with replica(pool, "alive", agency(4)) as alive:
        worker = Worker(alive, demand=4, watch=lambda: None)
        assert alive.gates["forestry"].permits.in_use == 0  # nothing while the lease holds
        await until(lambda: _true(worker.in_use == 4), timeout=5)
        await worker.stop()


async def test_replicas_together_send_no_more_than_the_rate_in_any_second(
    pool: asyncpg.Pool,
) -> None:
    rate = 20
    sent: list[float] = []
    loop = asyncio.get_running_loop()
    two = agency(100, rate)
    async with replica(pool, "a", two) as a, replica(pool, "b", two) as b:

        async def send(limits: GlobalLimits) -> None:
            gate = limits.gates["forestry"]
            await gate.enter()
            sent.append(loop.time())
            gate.leave(False, 0.0)

        await asyncio.gather(*(send(r) for r in (a, b) for _ in range(25)))
    sent.sort()
    # As the agency counts: no rate + 1 requests within one second ...
    assert min(sent[i + rate] - sent[i] for i in range(len(sent) - rate)) >= 1.0
    # ... but a burst within the limit goes at once, not spaced out.
    assert sent[rate - 1] - sent[0] < 0.5


async def _true(value: bool) -> bool:
    return value
