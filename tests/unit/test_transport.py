"""Each HTTP request retried by itself (the connectors' transport): repeatable requests are
asked again with backoff and Retry-After, others are not; the breaker counts requests; the
retry budget is waited for longer when giving up would throw answered requests away.

Waits are recorded through the injected ``sleep``, never timed."""

from __future__ import annotations

import asyncio
import random

import pytest

from connectors.base import Response
from connectors.errors import (
    AgencyError,
    AgencyForgot,
    AgencyRateLimited,
    AgencyRejected,
    AgencyUnavailable,
)
from gateway.core.metrics import Metrics
from gateway.worker.backoff import FullJitterBackoff
from gateway.worker.breaker import BreakerConfig, BreakerState, CircuitBreaker
from gateway.worker.budget import BudgetConfig, RetryBudget
from gateway.worker.transport import ANSWERED, AgencyTransport, Deferred

OK = Response(200, {}, b"{}")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def transport(
    waits: list[float],
    *,
    budget: RetryBudget | None = None,
    breaker: CircuitBreaker | None = None,
    attempts: int = 4,
) -> AgencyTransport:
    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return AgencyTransport(
        agency="subsidy",
        breaker=breaker or CircuitBreaker(BreakerConfig()),
        budget=budget or RetryBudget(BudgetConfig(min_per_second=100)),
        backoff=FullJitterBackoff(0.2, 30.0, random.Random(3)),
        metrics=Metrics(),
        attempts=attempts,
        max_inline_wait=5.0,
        sleep=sleep,
    )


def script(*outcomes: AgencyError | Response) -> tuple[list[int], object]:
    sent = [0]
    queue = list(outcomes)

    async def send_once() -> Response:
        sent[0] += 1
        outcome = queue.pop(0)
        if isinstance(outcome, AgencyError):
            raise outcome
        return outcome

    return sent, send_once


async def test_a_repeatable_request_is_asked_again_until_it_answers() -> None:
    waits: list[float] = []
    sent, send = script(AgencyUnavailable("subsidy", "agency error (500)"), rate_limited(1.5), OK)
    assert await transport(waits).send(send, repeatable=True) is OK  # type: ignore[arg-type]
    assert sent == [3] and len(waits) == 2
    assert waits[1] >= 1.5  # at least what the agency asked in Retry-After


@pytest.mark.parametrize(
    ("error", "repeatable"),
    [
        (AgencyUnavailable("subsidy", "agency error (500)"), False),  # may not be repeated alone
        (AgencyForgot("subsidy", "the agency no longer knows it (404)"), True),  # ask anew
        (AgencyRejected("subsidy", "request refused (400)"), True),  # permanent
    ],
)
async def test_what_may_not_be_repeated_alone_is_sent_once(
    error: AgencyError, repeatable: bool
) -> None:
    waits: list[float] = []
    sent, send = script(error, OK)
    with pytest.raises(type(error)):
        await transport(waits).send(send, repeatable=repeatable)  # type: ignore[arg-type]
    assert sent == [1] and waits == []


async def test_a_request_that_keeps_failing_gives_up_after_its_attempts() -> None:
    waits: list[float] = []
    sent, send = script(*[AgencyUnavailable("subsidy", "agency error (503)")] * 3)
    with pytest.raises(AgencyUnavailable):
        await transport(waits, attempts=3).send(send, repeatable=True)  # type: ignore[arg-type]
    assert sent == [3] and len(waits) == 2


async def test_a_long_retry_after_hands_the_inquiry_back() -> None:
    waits: list[float] = []
    sent, send = script(rate_limited(30.0), OK)
    with pytest.raises(Deferred) as deferred:
        await transport(waits).send(send, repeatable=True)  # type: ignore[arg-type]
    assert sent == [1] and waits == []
    assert deferred.value.delay >= 30.0 and deferred.value.reason == "backoff"
    assert isinstance(deferred.value.error, AgencyRateLimited)


async def test_the_breaker_counts_requests_and_an_open_one_sends_nothing() -> None:
    clock = Clock()
    breaker = CircuitBreaker(BreakerConfig(failures=5, min_calls=20), clock)
    waits: list[float] = []
    # one request in ten failing, answered on its retry: the breaker stays closed
    for _ in range(30):
        _, send = script(AgencyUnavailable("subsidy", "agency error (500)"), OK)
        await transport(waits, breaker=breaker).send(send, repeatable=True)  # type: ignore[arg-type]
        for _ in range(8):
            _, send = script(OK)
            await transport(waits, breaker=breaker).send(send, repeatable=True)  # type: ignore[arg-type]
    assert breaker.state is BreakerState.CLOSED and breaker.opened == 0
    # a dead agency: five requests failing in a row open it, and then nothing is sent
    _, send = script(*[AgencyUnavailable("subsidy", "connection failed")] * 5)
    with pytest.raises(AgencyUnavailable):
        await transport(waits, breaker=breaker, attempts=5).send(send, repeatable=True)  # type: ignore[arg-type]
    assert breaker.state is BreakerState.OPEN
    sent, send = script(OK)
    with pytest.raises(Deferred) as deferred:
        await transport(waits, breaker=breaker).send(send, repeatable=True)  # type: ignore[arg-type]
    assert sent == [0] and deferred.value.reason == "breaker_open"


async def test_with_answers_behind_it_a_request_waits_longer_for_the_budget() -> None:
    clock = Clock()
    empty = RetryBudget(BudgetConfig(ratio=0.0, window=10.0, min_per_second=0.0), clock)
    # Nothing answered yet in this attempt: giving back costs nothing, so it gives back.
    waits: list[float] = []
    _, send = script(AgencyUnavailable("subsidy", "agency error (500)"), OK)
    with pytest.raises(Deferred) as deferred:
        await transport(waits, budget=empty).send(send, repeatable=True)  # type: ignore[arg-type]
    assert deferred.value.reason == "retry_budget" and sum(waits) <= 5.0
    # Twelve township listings already answered: it waits (up to a minute) instead.
    waits = []
    token = ANSWERED.set([12])
    try:
        _, send = script(AgencyUnavailable("subsidy", "agency error (500)"), OK)
        with pytest.raises(Deferred):
            await transport(waits, budget=empty).send(send, repeatable=True)  # type: ignore[arg-type]
    finally:
        ANSWERED.reset(token)
    assert 5.0 < sum(waits) <= 60.0


def rate_limited(seconds: float) -> AgencyRateLimited:
    return AgencyRateLimited("subsidy", "rate limited (429)", retry_after=seconds)


async def test_half_open_a_request_waits_for_the_probe_rather_than_giving_back() -> None:
    clock = Clock()
    breaker = CircuitBreaker(BreakerConfig(failures=1, probe_delay=0, probes=1), clock)
    ticket = breaker.admit()
    assert ticket is not None
    breaker.record(ticket, ok=False)  # open; probe at once: half-open
    probe_may_answer = asyncio.Event()

    async def probe() -> Response:
        await probe_may_answer.wait()
        return OK

    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        probe_may_answer.set()  # while the second request waits, the probe answers
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    first = transport(waits, breaker=breaker)
    second = transport(waits, breaker=breaker)
    second.sleep = sleep
    probing = asyncio.create_task(first.send(probe, repeatable=True))
    await asyncio.sleep(0)
    assert breaker.probe_in_progress()
    sent, send = script(OK)
    assert await second.send(send, repeatable=True) is OK  # type: ignore[arg-type]
    assert await probing is OK
    assert sent == [1] and waits  # it waited for the verdict, then went
    assert breaker.state is BreakerState.CLOSED
