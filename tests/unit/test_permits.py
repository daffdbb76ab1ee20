"""An agency's permits when the database goes away and comes back, without a database: the
local share (``Permits``) on an injected clock, and the sync loop (``GlobalLimits``) against a
stand-in pool that fails the way asyncpg does while PostgreSQL restarts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from gateway.core.metrics import Metrics
from gateway.core.settings import AgencySettings, Settings
from gateway.worker.global_limits import GlobalLimits
from gateway.worker.limits import Permits


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def waiter(permits: Permits) -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(permits.acquire())


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)  # let tasks reach their wait (no time passes)


async def test_waiters_held_up_by_an_expired_lease_are_granted_by_the_next_sync() -> None:
    clock = Clock()
    permits = Permits(3, clock)
    permits.apply(held=3, target=3, valid_until=clock.now + 4)
    for _ in range(3):
        await permits.acquire()
    waiting = [waiter(permits) for _ in range(2)]
    await settle()
    clock.now += 5  # the database went away: the lease lapsed unrenewed
    permits.expire()
    for _ in range(3):
        permits.release()  # the requests in flight end, but the lease is gone
    await settle()
    assert not any(task.done() for task in waiting)
    assert permits.waiting == 2 and permits.in_use == 0

    keep, wanted = permits.plan()  # the database is back: the next sync
    assert keep == 0 and wanted >= 2
    permits.apply(held=3, target=3, valid_until=clock.now + 4)
    await asyncio.wait_for(asyncio.gather(*waiting), 5)
    assert permits.in_use == 2 and permits.waiting == 0


async def test_a_replica_holding_the_whole_limit_waits_for_its_requests_not_a_sync() -> None:
    clock = Clock()
    permits = Permits(2, clock)
    permits.apply(held=2, target=2, valid_until=clock.now + 4)
    for _ in range(2):
        await permits.acquire()
    permits.sync_wanted.clear()
    waiting = waiter(permits)
    await settle()
    # Full load, alone: a sync could only answer what the replica knows already.
    assert permits.waiting == 1
    assert not permits.sync_wanted.is_set() and not permits.contended()
    permits.release()  # one of its own requests ends: the waiter goes
    await asyncio.wait_for(waiting, 5)
    assert permits.in_use == 2

    # The lease lapsed: now a sync is what the waiter needs.
    clock.now += 5
    waiting = waiter(permits)
    await settle()
    assert permits.sync_wanted.is_set() and permits.contended()
    waiting.cancel()


async def test_a_replica_with_part_of_the_limit_asks_for_more_when_its_requests_wait() -> None:
    clock = Clock()
    permits = Permits(4, clock)
    permits.apply(held=2, target=2, valid_until=clock.now + 4)
    for _ in range(2):
        await permits.acquire()
    permits.sync_wanted.clear()
    waiting = waiter(permits)
    await settle()
    assert permits.sync_wanted.is_set() and permits.contended()
    keep, wanted = permits.plan()
    assert (keep, wanted) == (2, 3)
    permits.apply(held=3, target=3, valid_until=clock.now + 4)
    await asyncio.wait_for(waiting, 5)


async def test_after_an_expired_lease_only_requests_still_in_flight_are_kept() -> None:
    # The database may have given our share to another replica while our lease was lapsed:
    # what we keep at the next sync is what is really in flight, not what was at expiry.
    clock = Clock()
    permits = Permits(4, clock)
    permits.apply(held=4, target=4, valid_until=clock.now + 4)
    await permits.acquire()
    await permits.acquire()
    clock.now += 5
    permits.expire()
    assert permits.plan()[0] == 2  # both still in flight
    permits.release()
    permits.release()
    assert permits.plan()[0] == 0


async def test_waiters_on_a_lapsed_lease_make_the_agency_contended() -> None:
    # Waiting for a sync, not for a colleague's permit: the sync loop should come at once.
    clock = Clock()
    permits = Permits(2, clock)
    permits.apply(held=2, target=2, valid_until=clock.now + 4)
    clock.now += 5
    task = waiter(permits)
    await settle()
    assert permits.in_use < permits.cap and permits.waiting == 1
    assert permits.contended()
    permits.apply(held=2, target=2, valid_until=clock.now + 4)
    await asyncio.wait_for(task, 5)
    assert not permits.contended()


class FlakyPool:
    """Hands out connections whose sync answers grant what was asked for, after failing a
    few times: as asyncpg does on a connection the server cut, then with a bug of ours."""

    def __init__(self, failures: list[BaseException]) -> None:
        self.failures = failures
        self.syncs = 0

    @asynccontextmanager
    async def _acquire(self) -> AsyncIterator[Any]:
        if self.failures:
            raise self.failures.pop(0)
        yield self

    def acquire(self, *, timeout: float | None = None) -> Any:
        return self._acquire()

    async def fetchrow(self, _query: str, *args: Any) -> dict[str, int]:
        _agency, _owner, limit, keep, wanted, in_use, _ttl = args
        self.syncs += 1
        held = max(keep, min(limit, wanted))
        return {"held": held, "target": held, "in_flight": in_use, "starved": 0}

    async def execute(self, _query: str, *_args: Any) -> str:
        return "DELETE 1"  # the permits handed back at stop

    async def close(self) -> None:
        return None

    def get_size(self) -> int:
        return 1


async def test_a_permit_sync_loop_outlives_a_stuck_connection_and_a_crash() -> None:
    stuck = asyncpg.InternalClientError("cannot switch to state 15; another operation (2)")
    pool = FlakyPool([stuck, RuntimeError("a bug in the sync loop")])
    agency = AgencySettings(
        name="police", url="http://127.0.0.1:1", timeout=1.0, max_in_flight=3, max_rps=0
    )
    settings = Settings.from_env({}).replace(limit_sync_seconds=0.05, limit_lease_seconds=5.0)
    limits = GlobalLimits(pool, "test", {"police": agency}, settings, Metrics())
    await limits.start()
    try:
        permits = limits.gates["police"].permits
        # The first sync meets asyncpg's stuck connection (retried as the database being
        # unavailable), the second a crash (the loop is restarted): the request still gets
        # its permit.
        await asyncio.wait_for(permits.acquire(), 10)
        assert permits.in_use == 1 and pool.failures == [] and pool.syncs >= 1
        permits.release()
    finally:
        await limits.stop()
