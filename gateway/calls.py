"""One agency call with careful retries: the answer for a group of subjects, or the reason
there is none. Retries are for transient failures only, with capped exponential backoff and
full jitter, honouring ``Retry-After``; cancellation is never retried."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from connectors.base import Answer, Connector, Requester, Subject
from connectors.errors import AgencyError, AgencyRateLimited
from gateway.metrics import Metrics

log = structlog.get_logger("gateway.calls")


@dataclass(frozen=True, slots=True)
class CallResult:
    answers: list[Answer] | None
    error: str | None
    attempts: int


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, AgencyError) and exc.transient


@dataclass
class FullJitterBackoff:
    """AWS's "exponential backoff with full jitter", at least what ``Retry-After`` asked."""

    base: float
    cap: float
    rng: random.Random

    def __call__(self, state: RetryCallState) -> float:
        ceiling = min(self.cap, self.base * 2 ** (state.attempt_number - 1))
        delay = self.rng.uniform(0, ceiling)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, AgencyRateLimited) and exc.retry_after is not None:
            delay = max(delay, min(exc.retry_after, self.cap))
        return delay


@dataclass
class RecentCalls:
    """The last calls to one agency, for health reports and the demo's summary."""

    calls: deque[tuple[float, float, bool]] = field(default_factory=lambda: deque(maxlen=2000))

    def record(self, seconds: float, ok: bool) -> None:
        self.calls.append((time.monotonic(), seconds, ok))

    def median_latency(self) -> float | None:
        latencies = [seconds for _, seconds, ok in self.calls if ok]
        return statistics.median(latencies) if latencies else None

    def error_rate(self, window: float = 60.0) -> float | None:
        since = time.monotonic() - window
        recent = [ok for at, _, ok in self.calls if at >= since]
        return (len(recent) - sum(recent)) / len(recent) if recent else None


@dataclass
class AgencyCaller:
    connector: Connector
    slots: asyncio.Semaphore
    metrics: Metrics
    max_attempts: int
    backoff: FullJitterBackoff
    recent: RecentCalls = field(default_factory=RecentCalls)

    async def call(self, subjects: Sequence[Subject], requester: Requester) -> CallResult:
        agency = self.connector.name
        attempts = 0

        async def attempt() -> list[Answer]:
            nonlocal attempts
            # The slot is held for the call only, never across a backoff sleep.
            async with self.slots:
                attempts += 1
                gauge = self.metrics.in_flight.labels(agency)
                gauge.inc()
                started = time.perf_counter()
                outcome = "ok"
                try:
                    answers = await self.connector.query(subjects, requester)
                    if len(answers) != len(subjects):
                        outcome = "bad_answer"
                        raise AgencyError(agency, "answer count does not match the request")
                    return answers
                except AgencyError as exc:
                    outcome = type(exc).__name__
                    raise
                finally:
                    gauge.dec()
                    elapsed = time.perf_counter() - started
                    self.recent.record(elapsed, outcome == "ok")
                    self.metrics.agency_latency.labels(agency).observe(elapsed)
                    self.metrics.agency_calls.labels(agency, outcome).inc()
                    log.info(
                        "agency_call",
                        agency=agency,
                        batch_id=requester.batch_id,
                        subjects=len(subjects),
                        outcome=outcome,
                        ms=round(elapsed * 1000, 1),
                    )

        retrying = AsyncRetrying(
            retry=retry_if_exception(_is_transient),
            stop=stop_after_attempt(self.max_attempts),
            wait=self.backoff,
            reraise=True,
        )
        try:
            answers = await retrying(attempt)
        except AgencyError as exc:
            return CallResult(None, str(exc), attempts)
        return CallResult(answers, None, attempts)
