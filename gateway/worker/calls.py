"""One agency call with careful retries: the answer for a group of subjects, the reason there
is none, or "not now" (give the inquiries back to the queue).

Retries (tenacity) are for transient failures only (5xx, 429, timeouts, resets, truncated or
malformed answers), with capped exponential backoff and full jitter, honouring ``Retry-After``.
Every retry must be granted by the agency's retry budget, and every attempt by its circuit
breaker; when either says no, the call ends *deferred*: nothing is recorded, no attempt is
burnt, and the dispatcher requeues the inquiries with a delay. Cancellation is never retried:
the retry predicate accepts ``AgencyError``s only, whereas tenacity's
``retry_if_not_exception_type`` would retry ``CancelledError`` too (tenacity catches
``BaseException``).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import structlog
from tenacity import AsyncRetrying, RetryCallState, stop_after_attempt

from connectors.base import Answer, Connector, Requester, Subject
from connectors.errors import AgencyError, AgencyRateLimited
from gateway.core.metrics import Metrics
from gateway.worker.breaker import CircuitBreaker, Ticket
from gateway.worker.budget import RetryBudget
from gateway.worker.limits import REQUESTS_SENT

log = structlog.get_logger("gateway.calls")


@dataclass(frozen=True, slots=True)
class CallResult:
    answers: list[Answer] | None
    error: str | None
    attempts: int
    #: set when the call was neither answered nor failed: requeue after this many seconds
    defer: float | None = None
    defer_reason: str | None = None


class Deferred(Exception):
    """Not now: the breaker is open, the retry budget is spent, or the wait is long."""

    def __init__(self, delay: float, reason: str) -> None:
        super().__init__(reason)
        self.delay = delay
        self.reason = reason


def is_retryable(exc: BaseException | None) -> bool:
    """Transient agency failures only; never cancellation, a permanent refusal or a bug."""
    return isinstance(exc, AgencyError) and exc.transient


@dataclass
class FullJitterBackoff:
    """AWS's "exponential backoff with full jitter", and at least what ``Retry-After`` asked
    (not capped: the agency said when; a long wait requeues the inquiry instead)."""

    base: float
    cap: float
    rng: random.Random

    def delay(self, attempts: int, exc: BaseException | None) -> float:
        ceiling = min(self.cap, self.base * 2 ** max(0, attempts - 1))
        delay = self.rng.uniform(0, ceiling)
        if isinstance(exc, AgencyRateLimited) and exc.retry_after is not None:
            delay = max(delay, exc.retry_after)
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

    def count(self, window: float = 60.0) -> int:
        since = time.monotonic() - window
        return sum(1 for at, _, _ in self.calls if at >= since)


@dataclass
class AgencyCaller:
    connector: Connector
    #: connector calls running at once in this replica; HTTP limits are the gate's (limits.py)
    calls: asyncio.Semaphore
    metrics: Metrics
    max_attempts: int
    backoff: FullJitterBackoff
    breaker: CircuitBreaker
    budget: RetryBudget
    max_inline_wait: float = 5.0
    recent: RecentCalls = field(default_factory=RecentCalls)
    #: how a backoff between attempts is waited out (tests record the waits instead)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def call(
        self, subjects: Sequence[Subject], requester: Requester, prior_attempts: int = 0
    ) -> CallResult:
        allowed = max(1, self.max_attempts - prior_attempts)
        attempts = 0
        deferral: Deferred | None = None
        next_wait = 0.0

        if prior_attempts > 0:
            # Given back to the queue earlier: this call's first attempt is a retry too.
            if not self._grant_retry():
                return CallResult(None, None, 0, self._budget_wait(0.0), "retry_budget")

        async def attempt() -> list[Answer]:
            nonlocal attempts
            async with self.calls:
                ticket = self.breaker.admit()
                if ticket is None:
                    raise Deferred(max(self.breaker.retry_in(), 0.05), "breaker_open")
                if attempts == 0 and prior_attempts == 0:
                    self.budget.first_attempt()
                attempts += 1
                return await self._attempt(subjects, requester, ticket)

        def should_retry(state: RetryCallState) -> bool:
            nonlocal deferral, next_wait
            exc = state.outcome.exception() if state.outcome else None
            if not is_retryable(exc) or attempts >= allowed:
                return False
            delay = self.backoff.delay(prior_attempts + attempts, exc)
            if delay > self.max_inline_wait:
                deferral = Deferred(delay, "backoff")  # don't sit on a lease that long
                return False
            if not self._grant_retry():
                deferral = Deferred(self._budget_wait(delay), "retry_budget")
                return False
            next_wait = delay
            return True

        retrying = AsyncRetrying(
            retry=should_retry,
            stop=stop_after_attempt(allowed),
            wait=lambda _state: next_wait,
            sleep=self.sleep,
            reraise=True,
        )
        try:
            # tenacity leaves the result type unsolved: it is attempt()'s
            answers: list[Answer] = await retrying(attempt)
        except Deferred as exc:
            return CallResult(None, None, attempts, exc.delay, exc.reason)
        except AgencyError as exc:
            if deferral is not None:
                return CallResult(None, str(exc), attempts, deferral.delay, deferral.reason)
            return CallResult(None, str(exc), attempts)
        return CallResult(answers, None, attempts)

    def _budget_wait(self, backoff: float) -> float:
        jitter = self.backoff.rng.uniform(0.5, 1.5)
        return max(backoff, self.budget.wait_hint() * jitter, 0.05)

    def _grant_retry(self) -> bool:
        granted = self.budget.try_retry()
        decision = "allowed" if granted else "denied"
        self.metrics.retries.labels(self.connector.name, decision).inc()
        return granted

    async def _attempt(
        self, subjects: Sequence[Subject], requester: Requester, ticket: Ticket
    ) -> list[Answer]:
        agency = self.connector.name
        started = time.perf_counter()
        outcome = "ok"
        verdict: bool | None = True  # for the breaker: None = says nothing about the agency
        sent = [0]
        token = REQUESTS_SENT.set(sent)
        try:
            answers = await self.connector.query(subjects, requester)
            if len(answers) != len(subjects):
                raise AgencyError(agency, "answer count does not match the request")
            return answers
        except AgencyRateLimited:
            outcome, verdict = "AgencyRateLimited", None  # alive, asking us to slow down
            raise
        except AgencyError as exc:
            # A permanent refusal is an answer: the agency is up.
            outcome, verdict = type(exc).__name__, not exc.transient
            raise
        except asyncio.CancelledError:
            outcome, verdict = "cancelled", None
            raise
        except Exception:
            outcome, verdict = "crashed", None  # our bug, not the agency's failure
            raise
        finally:
            REQUESTS_SENT.reset(token)
            if verdict is None or sent[0] == 0:
                self.breaker.release(ticket)
            else:
                self.breaker.record(ticket, verdict)
            elapsed = time.perf_counter() - started
            if outcome != "cancelled":
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
