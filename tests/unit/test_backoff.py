"""Backoff between attempts: capped exponential with full jitter, never shorter than what the
agency asked for in ``Retry-After``; a wait longer than the inline limit is handed back to the
queue instead of slept on; a permanent refusal is never asked again.

The caller's waits are recorded through its injected ``sleep``, not timed."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import pytest

from connectors.base import Answer, Connector, NotFound, Requester, Subject
from connectors.errors import AgencyError, AgencyRateLimited, AgencyRejected, AgencyUnavailable
from gateway.core.metrics import Metrics
from gateway.worker.backoff import FullJitterBackoff
from gateway.worker.breaker import BreakerConfig, CircuitBreaker
from gateway.worker.budget import BudgetConfig, RetryBudget
from gateway.worker.calls import AgencyCaller
from gateway.worker.transport import AgencyTransport

BASE, CAP = 0.2, 30.0
REQUESTER = Requester("officer", "team", "（2022）吉03执123号", "batch")
SUBJECT = Subject("张三", "220302196501012345")


class Highest(random.Random):
    """Draws the top of every range it is asked for, and remembers the ranges."""

    def __init__(self) -> None:
        super().__init__(0)
        self.ranges: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.ranges.append((a, b))
        return b


def rate_limited(retry_after: float | None) -> AgencyRateLimited:
    return AgencyRateLimited("vehicle", "rate limited (429)", retry_after=retry_after)


def test_full_jitter_draws_from_zero_to_a_capped_doubling_ceiling() -> None:
    rng = Highest()
    backoff = FullJitterBackoff(BASE, CAP, rng)
    unavailable = AgencyUnavailable("vehicle", "agency error (500)")
    delays = [backoff.delay(n, unavailable) for n in range(1, 11)]
    # AWS's formula: uniform(0, min(cap, base * 2 ** (attempt - 1)))
    ceilings = [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]
    assert rng.ranges == [(0, c) for c in ceilings]
    assert delays == pytest.approx(ceilings)


@pytest.mark.parametrize("seed", range(20))
def test_a_retry_after_is_the_least_the_backoff_waits(seed: int) -> None:
    backoff = FullJitterBackoff(BASE, CAP, random.Random(seed))
    for attempts in range(1, 6):
        assert backoff.delay(attempts, rate_limited(3.0)) >= 3.0
        # without the agency's word, a first retry waits at most the base
        assert 0 <= backoff.delay(1, rate_limited(None)) <= BASE


def test_a_retry_after_is_honoured_beyond_the_cap() -> None:
    backoff = FullJitterBackoff(BASE, CAP, Highest())
    assert backoff.delay(1, rate_limited(120.0)) == 120.0  # the agency said when
    # the jitter still applies when it asks for less than the jitter drew
    assert backoff.delay(9, rate_limited(1.0)) == CAP


@dataclass
class Scripted(Connector):
    """Raises the scripted errors in turn, then answers; counts its calls."""

    name: ClassVar[str] = "vehicle"
    title: ClassVar[str] = "test"
    record_type: ClassVar[type] = object
    errors: list[AgencyError] = field(default_factory=list[AgencyError])
    calls: int = 0

    async def query(self, subjects: Sequence[Subject], requester: Requester) -> list[Answer]:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return [NotFound() for _ in subjects]


def caller(connector: Connector, waits: list[float], max_inline_wait: float) -> AgencyCaller:
    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    metrics = Metrics()
    transport = AgencyTransport(
        agency=connector.name,
        breaker=CircuitBreaker(BreakerConfig()),
        budget=RetryBudget(BudgetConfig()),
        backoff=FullJitterBackoff(BASE, CAP, random.Random(7)),
        metrics=metrics,
        max_inline_wait=max_inline_wait,
        sleep=sleep,
    )
    return AgencyCaller(
        connector=connector,
        transport=transport,
        calls=asyncio.Semaphore(4),
        metrics=metrics,
        max_attempts=4,
        backoff=FullJitterBackoff(BASE, CAP, random.Random(7)),
        requeue_backoff=FullJitterBackoff(BASE, 600.0, random.Random(7)),
        max_inline_wait=max_inline_wait,
        sleep=sleep,
    )


def scripted(*errors: AgencyError) -> Scripted:
    return Scripted(session=None, base_url="http://unused", errors=list(errors))  # type: ignore[arg-type]


async def test_a_short_retry_after_is_waited_out_inline_then_asked_again() -> None:
    waits: list[float] = []
    connector = scripted(rate_limited(2.0), rate_limited(3.0))
    result = await caller(connector, waits, max_inline_wait=5.0).call([SUBJECT], REQUESTER)
    assert result.answers == [NotFound()] and result.attempts == 3
    assert connector.calls == 3
    assert len(waits) == 2 and waits[0] >= 2.0 and waits[1] >= 3.0


async def test_a_wait_longer_than_the_inline_limit_is_handed_back_not_slept() -> None:
    waits: list[float] = []
    connector = scripted(rate_limited(30.0))
    result = await caller(connector, waits, max_inline_wait=5.0).call([SUBJECT], REQUESTER)
    assert waits == []  # nothing slept on ...
    assert connector.calls == 1  # ... nor asked again here
    assert result.answers is None and result.attempts == 1
    # ... but given back to the queue for at least what the agency asked
    assert result.defer is not None and result.defer >= 30.0
    assert result.defer_reason == "backoff"


async def test_a_permanent_refusal_is_tried_once() -> None:
    waits: list[float] = []
    connector = scripted(AgencyRejected("vehicle", "request refused (400)"))
    result = await caller(connector, waits, max_inline_wait=5.0).call([SUBJECT], REQUESTER)
    assert connector.calls == 1 and waits == []
    assert result.defer is None and result.attempts == 1
    assert result.error == "vehicle: request refused (400)"
