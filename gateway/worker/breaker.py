"""A circuit breaker per agency (after Hystrix and resilience4j).

Closed: calls flow; the breaker opens after ``failures`` consecutive failures, or when at least
``min_calls`` calls in the last ``window`` seconds failed at ``failure_rate`` or more. Open: no
calls until ``probe_delay`` has passed. Half-open: one probe call at a time; ``probes``
successes in a row close the breaker, any failure opens it again for another ``probe_delay``.

Every admitted call gets a ``Ticket`` and must report back exactly once (``record`` or
``release``). Tickets remember the generation they were issued in, so the verdict of a call
that started before a transition (a slow call still running when the breaker opened) cannot
count as a probe or re-trip a breaker that has already moved on.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from gateway.core.settings import Settings


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    failures: int = 5
    failure_rate: float = 0.5
    min_calls: int = 20
    window: float = 30.0
    probe_delay: float = 5.0
    probes: int = 3

    @classmethod
    def from_settings(cls, settings: Settings) -> BreakerConfig:
        return cls(
            failures=settings.breaker_failures,
            failure_rate=settings.breaker_failure_rate,
            min_calls=settings.breaker_min_calls,
            window=settings.breaker_window,
            probe_delay=settings.breaker_probe_delay,
            probes=settings.breaker_probes,
        )


@dataclass(frozen=True, slots=True)
class Ticket:
    generation: int
    probe: bool


class CircuitBreaker:
    def __init__(
        self,
        config: BreakerConfig,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._on_change = on_change
        self._state = BreakerState.CLOSED
        self._generation = 0
        self._calls: deque[tuple[float, bool]] = deque()
        self._failures_in_window = 0
        self._consecutive = 0
        self._probe_at = 0.0
        self._probing = False
        self._probe_successes = 0
        #: when the breaker last left CLOSED (the outage as this process saw it), else None
        self._unavailable_since: float | None = None
        self.opened = 0

    # -- reading ----------------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() >= self._probe_at:
            self._move(BreakerState.HALF_OPEN)
        return self._state

    def retry_in(self) -> float:
        """Seconds until a call may be tried again (0 unless open)."""
        if self.state is BreakerState.OPEN:
            return max(0.0, self._probe_at - self._clock())
        return 0.0

    def unavailable_for(self) -> float | None:
        """Seconds since the breaker left CLOSED, or None while it is closed."""
        if self._unavailable_since is None:
            return None
        return self._clock() - self._unavailable_since

    def probe_in_progress(self) -> bool:
        return self._probing

    # -- admitting and recording ------------------------------------------------------------

    def admit(self) -> Ticket | None:
        """A ticket for one call, or None: the call must not be made now."""
        state = self.state
        if state is BreakerState.CLOSED:
            return Ticket(self._generation, probe=False)
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return Ticket(self._generation, probe=True)
        return None

    def record(self, ticket: Ticket, ok: bool) -> None:
        """The agency answered (``ok``) or failed in a way that counts against it."""
        if ticket.generation != self._generation:
            return  # issued before the last transition: its verdict is stale
        if ticket.probe:
            self._probing = False
            if not ok:
                self._open()
                return
            self._probe_successes += 1
            if self._probe_successes >= self.config.probes:
                self._close()
            return
        now = self._clock()
        self._calls.append((now, ok))
        self._failures_in_window += not ok
        self._prune(now)
        self._consecutive = 0 if ok else self._consecutive + 1
        if self._consecutive >= self.config.failures or self._rate_exceeded():
            self._open()

    def release(self, ticket: Ticket) -> None:
        """The call ended without a verdict (cancelled, or the agency asked us to slow down)."""
        if ticket.probe and ticket.generation == self._generation:
            self._probing = False

    # -- transitions ------------------------------------------------------------------------

    def _rate_exceeded(self) -> bool:
        calls = len(self._calls)
        return (
            calls >= self.config.min_calls
            and self._failures_in_window >= self.config.failure_rate * calls
        )

    def _prune(self, now: float) -> None:
        horizon = now - self.config.window
        while self._calls and self._calls[0][0] < horizon:
            _, ok = self._calls.popleft()
            self._failures_in_window -= not ok

    def _open(self) -> None:
        self._probe_at = self._clock() + self.config.probe_delay
        if self._unavailable_since is None:
            self._unavailable_since = self._clock()
        self.opened += 1
        self._move(BreakerState.OPEN)

    def _close(self) -> None:
        self._calls.clear()
        self._failures_in_window = 0
        self._consecutive = 0
        self._unavailable_since = None
        self._move(BreakerState.CLOSED)

    def _move(self, state: BreakerState) -> None:
        self._state = state
        self._generation += 1
        self._probing = False
        self._probe_successes = 0
        if self._on_change is not None:
            self._on_change(state)
