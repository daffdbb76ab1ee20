"""Agency limits held in PostgreSQL: replicas share an in-flight limit fairly, a dead replica's
share comes back, and the shared send schedule spaces requests across replicas.

The rate is checked on the send times PostgreSQL hands out (its clock, its schedule), not by
timing requests; that the agencies then count no breach is tests/integration/worker/
test_replicas.py's end-to-end check."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest

from gateway.core.metrics import Metrics
from gateway.core.settings import AgencySettings, Settings
from gateway.store import limits as store_limits
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
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its lease outlasts the moment the living replica first asks, by a wide margin.
    lasting = FAST.replace(limit_lease_seconds=2.0)
    dead = GlobalLimits(pool, "dead", agency(4), lasting, Metrics())
    await dead.start()
    for _ in range(4):
        await dead.gates["forestry"].enter()
    for task in dead._tasks:  # it dies: no more renewals, and nothing handed back
        task.cancel()
    # Every share the living replica is granted, and who held a live lease just then.
    grants: list[tuple[int, dict[str, int]]] = []
    sync = store_limits.sync_permits

    async def recorded(conn: Any, agency: str, owner: str, *args: Any) -> Any:
        async with conn.transaction():  # the sync's lock is held until the leases are read
            row = await sync(conn, agency, owner, *args)
            live = await conn.fetch(
                "SELECT owner, held FROM agency_permits "
                "WHERE agency = $1 AND expires_at > clock_timestamp()",
                agency,
            )
        grants.append((row["held"], {r["owner"]: r["held"] for r in live}))
        return row

    monkeypatch.setattr(store_limits, "sync_permits", recorded)
    async with replica(pool, "alive", agency(4)) as alive:
        worker = Worker(alive, demand=4, watch=lambda: None)
        await until(lambda: _true(worker.in_use == 4), timeout=10)
        await worker.stop()
    assert grants[0][1].get("dead") == 4  # it asked while the dead replica's lease held ...
    for held, live in grants:
        assert sum(live.values()) <= 4
        if held > 0:
            assert "dead" not in live  # ... and was granted nothing until it ran out


async def test_replicas_together_are_scheduled_no_more_than_the_rate_in_any_second(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    rate = 20
    #: every send time handed out, as (seconds to wait when handed out, the time itself), both
    #: read from PostgreSQL: the shared schedule, not any process's clock
    schedule: list[tuple[float, datetime]] = []
    reserve = store_limits.reserve_send_times

    async def recorded(conn: Any, agency: str, wanted: int, *limits: float) -> list[float]:
        # In one transaction, so the rate record stays locked until its new send times are read.
        async with conn.transaction():
            offsets = await reserve(conn, agency, wanted, *limits)
            sent = await conn.fetchval("SELECT sent FROM agency_rate WHERE agency = $1", agency)
        schedule.extend(zip(offsets, sent[len(sent) - len(offsets) :], strict=True))
        return offsets

    monkeypatch.setattr(store_limits, "reserve_send_times", recorded)
    sends = {"a": 0, "b": 0}
    two = agency(100, rate)
    async with replica(pool, "a", two) as a, replica(pool, "b", two) as b:

        async def send(name: str, limits: GlobalLimits) -> None:
            gate = limits.gates["forestry"]
            await gate.enter()  # returns at a send time reserved for this request
            sends[name] += 1
            gate.leave(False, 0.0)

        await asyncio.gather(*(send(n, r) for n, r in (("a", a), ("b", b)) for _ in range(25)))
    assert sends == {"a": 25, "b": 25}
    assert len(schedule) >= 50  # a send time for every request (one missed is not reused)
    schedule.sort(key=lambda slot: slot[1])
    times = [at for _, at in schedule]
    # As the agency counts: no rate + 1 send times within one second ...
    assert min(times[i + rate] - times[i] for i in range(len(times) - rate)) >= timedelta(seconds=1)
    # ... but a burst within the limit goes at once, not spaced out.
    assert [wait for wait, _ in schedule[:rate]] == [0.0] * rate


async def _true(value: bool) -> bool:
    return value
