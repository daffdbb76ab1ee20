"""Every HTTP request to an agency, retried by itself: the connectors' transport.

A protocol of several requests (a ticket then polls, a township list then pages) would
multiply the fault rate if only whole calls were retried: at 10 % of requests faulted, a
15-request subsidy inquiry succeeds whole only one time in five. So each request that may be
repeated on its own is retried here, where it failed, with the same full-jitter backoff,
``Retry-After``, retry budget and agency gate (every attempt passes the gate: agencies count
requests). A request that may not be repeated alone, an ``AgencyForgot`` (the agency lost
track: ask anew from the start), a permanent refusal, and a backoff longer than
``max_inline_wait`` end here; the call above restarts the protocol or gives the inquiry
back to the queue.

The circuit breaker and the health figures count requests too, so a 10 % request fault rate
does not read as a dying agency while a dead one still opens the breaker at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

import structlog
from prometheus_client import Counter, Histogram

from connectors.base import Response, Send
from connectors.errors import AgencyError, AgencyForgot, AgencyRateLimited
from gateway.core.metrics import Metrics
from gateway.worker.backoff import FullJitterBackoff, RecentRequests
from gateway.worker.breaker import BreakerState, CircuitBreaker, Ticket
from gateway.worker.budget import RetryBudget

log = structlog.get_logger("gateway.transport")

#: requests answered so far in the current protocol attempt (set by the caller): progress a
#: deferral would throw away, since the protocol is then asked again from the start
ANSWERED: ContextVar[list[int] | None] = ContextVar("answered", default=None)
#: how long a request with progress behind it waits for the retry budget before giving up
PATIENCE_WITH_PROGRESS = 60.0
#: how often a request looks again whether a half-open breaker admits it
PROBE_WAIT = 0.05


class Deferred(Exception):
    """Not now: the breaker is open, the retry budget is spent, or the wait is long."""

    def __init__(self, delay: float, reason: str, error: AgencyError | None = None) -> None:
        super().__init__(reason)
        self.delay = delay
        self.reason = reason
        #: the failure that made us wait, if one did
        self.error = error


@dataclass
class AgencyTransport:
    """One agency's requests: retried one by one, counted by its breaker and budget."""

    agency: str
    breaker: CircuitBreaker
    budget: RetryBudget
    backoff: FullJitterBackoff
    metrics: Metrics
    attempts: int = 4
    max_inline_wait: float = 5.0
    recent: RecentRequests = field(default_factory=RecentRequests)
    #: how a backoff is waited out (tests record the waits instead)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    #: this agency's metric children, by outcome: ``labels()`` once, not on every request
    _requests: dict[str, Counter] = field(
        init=False, repr=False, default_factory=dict[str, Counter]
    )
    _latency: Histogram = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._latency = self.metrics.agency_request_latency.labels(self.agency)

    async def send(self, send_once: Send, *, repeatable: bool) -> Response:
        attempt = 0
        while True:
            ticket = await self._admitted()
            if attempt == 0:
                self.budget.first_attempt()
            attempt += 1
            started = time.perf_counter()
            outcome = "ok"
            try:
                response = await send_once()
            except AgencyRateLimited as exc:
                outcome = type(exc).__name__
                self.breaker.release(ticket)  # alive, asking us to slow down
                error: AgencyError = exc
            except AgencyError as exc:
                outcome = type(exc).__name__
                # A permanent refusal is an answer: the agency is up.
                self.breaker.record(ticket, not exc.transient)
                error = exc
            except asyncio.CancelledError:
                outcome = "cancelled"
                self.breaker.release(ticket)
                raise
            except BaseException:
                outcome = "crashed"  # our bug, not the agency's failure
                self.breaker.release(ticket)
                raise
            else:
                self.breaker.record(ticket, True)
                answered = ANSWERED.get()
                if answered is not None:
                    answered[0] += 1
                return response
            finally:
                self._count(outcome, time.perf_counter() - started)
            self._give_up_unless_retryable(error, repeatable, attempt)
            delay = self.backoff.delay(attempt, error)
            if delay > self.max_inline_wait:
                # Don't sit on a lease that long: the inquiry goes back to the queue.
                raise Deferred(delay, "backoff", error)
            await self._wait_for_budget(delay, error)

    async def _admitted(self) -> Ticket:
        """A ticket from the breaker. Half-open, it admits one probe at a time: a request of
        a protocol already under way waits a moment for the probe's verdict (the breaker
        closes after a few) rather than handing back what the protocol has done so far."""
        waited = 0.0
        while True:
            ticket = self.breaker.admit()
            if ticket is not None:
                return ticket
            half_open = self.breaker.state is BreakerState.HALF_OPEN
            if not half_open or waited >= self.max_inline_wait:
                raise Deferred(max(self.breaker.retry_in(), 0.05), "breaker_open")
            await self.sleep(PROBE_WAIT)
            waited += PROBE_WAIT

    async def _wait_for_budget(self, delay: float, error: AgencyError) -> None:
        """Sleep ``delay``, and longer if the retry budget has no room yet: a short wait for
        the budget keeps what the protocol has done so far (a ticket, the pages read), where
        giving the inquiry back would ask all of it again. A long one gives it back."""
        waited = 0.0
        answered = ANSWERED.get()
        patience = self.max_inline_wait
        if answered is not None and answered[0] > 0:
            # Giving up now would ask again what was already answered: wait longer.
            patience = max(patience, PATIENCE_WITH_PROGRESS)
        while not self.grant_retry():
            wait = self.budget_wait(delay)
            if waited + wait > patience:
                raise Deferred(wait, "retry_budget", error)
            await self.sleep(wait)
            waited += wait
        await self.sleep(max(0.0, delay - waited))

    def _give_up_unless_retryable(self, error: AgencyError, repeatable: bool, attempt: int) -> None:
        if not error.transient or not repeatable or isinstance(error, AgencyForgot):
            raise error
        if attempt >= self.attempts:
            raise error

    def budget_wait(self, backoff: float) -> float:
        jitter = self.backoff.rng.uniform(0.5, 1.5)
        return max(backoff, self.budget.wait_hint() * jitter, 0.05)

    def grant_retry(self) -> bool:
        """Take one retry from the agency's budget if it has one."""
        granted = self.budget.try_retry()
        decision = "allowed" if granted else "denied"
        self.metrics.retries.labels(self.agency, decision).inc()
        return granted

    def _count(self, outcome: str, seconds: float) -> None:
        if outcome == "cancelled":
            return
        self.recent.record(seconds, outcome == "ok")
        counter = self._requests.get(outcome)
        if counter is None:
            counter = self._requests[outcome] = self.metrics.agency_requests.labels(
                self.agency, outcome
            )
        counter.inc()
        self._latency.observe(seconds)
