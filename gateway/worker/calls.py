"""One agency call: the answer for a group of subjects, a final failure, or "not now" (give
the inquiries back to the queue, to be asked again later).

Each HTTP request inside the call is retried by itself (``gateway.worker.transport``). What
is left for the call: restarting the whole protocol when a step cannot be repeated alone (the
agency forgot a ticket, an answer could not be understood), up to ``max_attempts`` times per
claim with a short full-jitter backoff, each restart granted by the retry budget. When that is
spent, or the wait would be long, or the breaker is open, the call ends *deferred*: nothing is
recorded and the dispatcher requeues the inquiries with a capped exponential backoff and the
last error, until the agency's answer deadline. Only a permanent refusal fails at once.
Cancellation is never retried.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import structlog
from prometheus_client import Counter, Histogram

from connectors.base import Answer, Connector, Requester, Subject
from connectors.errors import AgencyError
from gateway.core.metrics import Metrics
from gateway.worker.backoff import FullJitterBackoff, RecentRequests
from gateway.worker.limits import REQUESTS_SENT
from gateway.worker.transport import ANSWERED, AgencyTransport, Deferred

log = structlog.get_logger("gateway.calls")


@dataclass(frozen=True, slots=True)
class CallResult:
    answers: list[Answer] | None
    #: the failure: final unless ``defer`` is set (then the last error while waiting)
    error: str | None
    attempts: int
    #: set when the call was neither answered nor failed: requeue after this many seconds
    defer: float | None = None
    defer_reason: str | None = None


@dataclass
class AgencyCaller:
    connector: Connector
    transport: AgencyTransport
    #: connector calls running at once in this replica; HTTP limits are the gate's (limits.py)
    calls: asyncio.Semaphore
    metrics: Metrics
    #: protocol attempts per claim
    max_attempts: int
    backoff: FullJitterBackoff
    #: the wait before an inquiry that failed is asked again, by its attempts so far
    requeue_backoff: FullJitterBackoff
    max_inline_wait: float = 5.0
    #: how a backoff between attempts is waited out (tests record the waits instead)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    #: this agency's metric children, by outcome: ``labels()`` once, not on every call
    _calls: dict[str, Counter] = field(init=False, repr=False, default_factory=dict[str, Counter])
    _latency: Histogram = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._latency = self.metrics.agency_latency.labels(self.connector.name)

    @property
    def recent(self) -> RecentRequests:
        """The agency's recent requests (health figures count requests, not calls)."""
        return self.transport.recent

    async def call(
        self, subjects: Sequence[Subject], requester: Requester, prior_attempts: int = 0
    ) -> CallResult:
        attempts = 0
        while True:
            try:
                async with self.calls:
                    answers = await self._attempt(subjects, requester)
                    return CallResult(answers, None, attempts + 1)
            except Deferred as deferred:
                attempts += 1 if deferred.error is not None else 0
                error = str(deferred.error) if deferred.error is not None else None
                return CallResult(None, error, attempts, deferred.delay, deferred.reason)
            except _Failed as failed:
                attempts += 1
                exc = failed.error
                if not exc.transient:
                    return CallResult(None, str(exc), attempts)
                if attempts >= self.max_attempts:
                    delay = self.requeue_backoff.delay(prior_attempts + attempts, exc)
                    return CallResult(None, str(exc), attempts, delay, "failed_attempt")
                delay = self.backoff.delay(attempts, exc)
                if delay > self.max_inline_wait:
                    return CallResult(None, str(exc), attempts, delay, "backoff")
                if not self.transport.grant_retry():
                    wait = self.transport.budget_wait(delay)
                    return CallResult(None, str(exc), attempts, wait, "retry_budget")
                await self.sleep(delay)

    async def _attempt(self, subjects: Sequence[Subject], requester: Requester) -> list[Answer]:
        agency = self.connector.name
        started = time.perf_counter()
        outcome = "ok"
        sent = [0]
        token = REQUESTS_SENT.set(sent)
        progress = ANSWERED.set([0])
        try:
            answers = await self.connector.query(subjects, requester)
            if len(answers) != len(subjects):
                raise AgencyError(agency, "answer count does not match the request")
            return answers
        except Deferred as exc:
            outcome = f"deferred_{exc.reason}"
            raise
        except AgencyError as exc:
            outcome = type(exc).__name__
            raise _Failed(exc) from exc
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except Exception:
            outcome = "crashed"  # our bug, not the agency's failure
            raise
        finally:
            REQUESTS_SENT.reset(token)
            ANSWERED.reset(progress)
            elapsed = time.perf_counter() - started
            if outcome != "cancelled":
                self._latency.observe(elapsed)
            counter = self._calls.get(outcome)
            if counter is None:
                counter = self._calls[outcome] = self.metrics.agency_calls.labels(agency, outcome)
            counter.inc()
            # A call answered is counted (gateway_agency_calls_total, its latency) and logged
            # only at debug: a line for each, a thousand a second under load at about 30 µs
            # a line, was the largest single cost the gateway added to a call. Every other
            # outcome is a line.
            (log.debug if outcome == "ok" else log.info)(
                "agency_call",
                agency=agency,
                batch_id=requester.batch_id,
                subjects=len(subjects),
                requests=sent[0],
                outcome=outcome,
                ms=round(elapsed * 1000, 1),
            )


class _Failed(Exception):
    def __init__(self, error: AgencyError) -> None:
        super().__init__(str(error))
        self.error = error
