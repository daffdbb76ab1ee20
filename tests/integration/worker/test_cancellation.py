"""Cancellation and shutdown stop at once: no retry fires after cancel.

tenacity catches ``BaseException``, so a retry condition such as
``retry_if_not_exception_type(AgencyRejected)`` retries ``CancelledError`` too (a cancelled
call would be asked again). The gateway's retry condition accepts transient ``AgencyError``s
only; these tests prove it at the caller and through the API.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import asyncpg
import pytest
from tenacity import AsyncRetrying, retry_if_not_exception_type, stop_after_attempt, wait_none

from connectors.base import Answer, Connector, NotFound, Requester, Response, Subject
from connectors.errors import AgencyRejected, AgencyUnavailable
from gateway.core.metrics import Metrics
from gateway.http.keys import DISPATCHER
from gateway.worker.backoff import FullJitterBackoff
from gateway.worker.breaker import BreakerConfig, BreakerState, CircuitBreaker
from gateway.worker.budget import BudgetConfig, RetryBudget
from gateway.worker.calls import AgencyCaller
from gateway.worker.transport import AgencyTransport
from mocks.population import sample_ids
from tests.integration.worker.conftest import StartGateway, agencies, body, until

REQUESTER = Requester("officer", "team", "（2022）吉03执123号", "batch")
SUBJECT = Subject("张三", "220302196501012345")


@dataclass
class FakeConnector(Connector):
    """Fails (transiently) or hangs on demand, and counts its calls."""

    name: ClassVar[str] = "forestry"
    title: ClassVar[str] = "test"
    record_type: ClassVar[type] = object
    hang: bool = False
    calls: int = 0

    def __post_init__(self) -> None:
        self.entered = asyncio.Event()

    async def query(self, subjects: Sequence[Subject], requester: Requester) -> list[Answer]:
        self.calls += 1
        self.entered.set()
        if self.hang and self.calls == 1:
            await asyncio.Event().wait()  # (a wrongful retry would come back at once)
        raise AgencyUnavailable(self.name, "agency error (500)")


def caller(connector: Connector, backoff_seconds: float) -> AgencyCaller:
    metrics = Metrics()
    backoff = FullJitterBackoff(backoff_seconds, backoff_seconds, random.Random(1))
    transport = AgencyTransport(
        agency=connector.name,
        breaker=CircuitBreaker(BreakerConfig()),
        budget=RetryBudget(BudgetConfig(min_per_second=100)),
        backoff=backoff,
        metrics=metrics,
        max_inline_wait=60,
    )
    connector.transport = transport
    return AgencyCaller(
        connector=connector,
        transport=transport,
        calls=asyncio.Semaphore(4),
        metrics=metrics,
        max_attempts=10,
        backoff=backoff,
        requeue_backoff=backoff,
        max_inline_wait=60,
    )


async def test_cancelled_during_the_backoff_no_retry_follows() -> None:
    connector = FakeConnector(session=None, base_url="http://unused")  # type: ignore[arg-type]
    agency = caller(connector, backoff_seconds=30)  # the retry would come up to 30 s later
    backing_off = asyncio.Event()

    async def sleep(seconds: float) -> None:
        backing_off.set()
        await asyncio.sleep(seconds)

    agency.sleep = sleep
    task = asyncio.create_task(agency.call([SUBJECT], REQUESTER))
    await backing_off.wait()  # it failed and is waiting before the retry
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert connector.calls == 1  # the task has ended: nothing is left that could retry


async def test_cancelled_during_an_attempt_it_is_not_retried() -> None:
    connector = FakeConnector(session=None, base_url="http://unused", hang=True)  # type: ignore[arg-type]
    agency = caller(connector, backoff_seconds=0)
    task = asyncio.create_task(agency.call([SUBJECT], REQUESTER))
    await connector.entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert connector.calls == 1
    assert agency.transport.breaker.state is BreakerState.CLOSED  # not a failure


async def test_tenacity_would_retry_a_cancellation_with_a_negative_condition() -> None:
    """Why the condition matters: the trap the gateway avoids, shown with tenacity alone."""
    calls = 0

    async def attempt() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise asyncio.CancelledError
        return "asked again"

    trap = AsyncRetrying(
        retry=retry_if_not_exception_type(AgencyRejected),
        stop=stop_after_attempt(3),
        wait=wait_none(),
    )
    assert await trap(attempt) == "asked again" and calls == 2  # the cancellation was swallowed


def never_gives_up(urls: dict[str, str]) -> dict[str, Any]:
    """Settings under which forestry retries for ever (no breaker, a bottomless budget)."""
    return {
        "agencies": agencies(urls, forestry={"max_rps": 0}),
        "max_attempts": 1000,
        "backoff_base": 0.2,
        "backoff_cap": 0.2,
        "breaker_failures": 10**6,
        "breaker_min_calls": 10**6,
        "retry_budget_min_per_second": 1000,
    }


async def test_no_request_after_a_batch_is_cancelled(
    start_gateway: StartGateway, mocks: Any
) -> None:
    mocks.set_faults("forestry", {"500": 1.0})
    gateway = await start_gateway(**never_gives_up(mocks.urls))
    created = await gateway.submit(
        body(sample_ids(8, seed=9, organisations=0), agencies=["forestry"])
    )
    batch_id = created["id"]

    async def retrying() -> bool:
        return mocks.stats("forestry")["requests"] >= 30

    await until(retrying, timeout=30)
    response = await gateway.client.post(
        f"/v1/batches/{batch_id}/cancel", headers=await gateway.headers()
    )
    assert response.status == 200
    dispatcher = gateway.client.app[DISPATCHER]

    async def ended() -> bool:
        return dispatcher.in_progress(batch_id) == 0

    await until(ended, timeout=5)
    requests = mocks.stats("forestry")["requests"]
    # Watch for longer than any backoff (0.2 s): a retry that survived would show here.
    await asyncio.sleep(1.0)
    assert mocks.stats("forestry")["requests"] == requests
    async with gateway.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM results") == 0


async def test_no_request_after_shutdown_and_the_work_goes_back_to_the_queue(
    start_gateway: StartGateway, mocks: Any
) -> None:
    mocks.set_faults("forestry", {"500": 1.0})
    gateway = await start_gateway(**never_gives_up(mocks.urls))
    created = await gateway.submit(
        body(sample_ids(8, seed=10, organisations=0), agencies=["forestry"])
    )

    async def retrying() -> bool:
        return mocks.stats("forestry")["requests"] >= 30

    await until(retrying, timeout=30)
    await gateway.client.close()  # the dispatcher stops: calls cancelled, leases handed back
    requests = mocks.stats("forestry")["requests"]
    await asyncio.sleep(1.0)  # longer than any backoff
    assert mocks.stats("forestry")["requests"] == requests
    conn = await asyncpg.connect(gateway.database_url)
    try:
        states = await conn.fetch(
            "SELECT state, lease_owner FROM inquiries WHERE batch_id = $1", created["id"]
        )
    finally:
        await conn.close()
    assert {(r["state"], r["lease_owner"]) for r in states} == {("queued", None)}


def test_a_probe_cancelled_midway_frees_the_probe() -> None:
    breaker = CircuitBreaker(BreakerConfig(probe_delay=0))
    for _ in range(5):
        ticket = breaker.admit()
        assert ticket is not None
        breaker.record(ticket, ok=False)
    probe = breaker.admit()
    assert probe is not None and probe.probe
    breaker.release(probe)
    assert breaker.admit() is not None


async def test_a_cancelled_probe_request_releases_its_ticket() -> None:
    """A half-open breaker's probe is one request: cancelled midway, it frees the probe."""
    breaker = CircuitBreaker(BreakerConfig(probe_delay=0))
    for _ in range(5):
        ticket = breaker.admit()
        assert ticket is not None
        breaker.record(ticket, ok=False)
    transport = AgencyTransport(
        agency="forestry",
        breaker=breaker,
        budget=RetryBudget(BudgetConfig()),
        backoff=FullJitterBackoff(0, 0, random.Random(1)),
        metrics=Metrics(),
    )
    entered = asyncio.Event()

    async def hang() -> Response:
        entered.set()
        await asyncio.Event().wait()
        raise AssertionError("never answers")

    task = asyncio.create_task(transport.send(hang, repeatable=True))
    await entered.wait()
    assert breaker.probe_in_progress()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not breaker.probe_in_progress()


async def test_an_organisation_answered_without_a_request_is_no_probe_success() -> None:
    @dataclass
    class Offline(Connector):
        name: ClassVar[str] = "forestry"
        title: ClassVar[str] = "test"
        record_type: ClassVar[type] = object

        async def query(self, subjects: Sequence[Subject], requester: Requester) -> list[Answer]:
            return [NotFound()]  # as for an organisation: no HTTP request at all

    agency = caller(Offline(session=None, base_url="http://unused"), backoff_seconds=0)  # type: ignore[arg-type]
    breaker = agency.transport.breaker = CircuitBreaker(BreakerConfig(probe_delay=0, probes=1))
    for _ in range(5):
        ticket = breaker.admit()
        assert ticket is not None
        breaker.record(ticket, ok=False)
    result = await agency.call([SUBJECT], REQUESTER)
    assert result.answers == [NotFound()]
    assert breaker.state is BreakerState.HALF_OPEN  # not closed by a call that sent nothing
