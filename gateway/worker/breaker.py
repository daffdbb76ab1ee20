"""A circuit breaker per agency (after Hystrix and resilience4j).

Closed: calls flow; the breaker opens after ``failures`` consecutive failures, or when at least
``min_calls`` calls in the last ``window`` seconds failed at ``failure_rate`` or more. Open: no
calls until ``probe_delay`` has passed. Half-open: one probe call at a time; ``probes``
successes in a row close the breaker, any failure opens it again for another ``probe_delay``.

Consecutive means in the order the calls were *sent*, not the order their verdicts came back:
calls run concurrently, and an error answered at once (a 500) comes back before the slower
successes sent alongside it, while a hang comes back after the successes sent behind it. As
verdicts came back, a burst of 24 calls at 30 % errors held five fast failures in a row nearly
every time, and 24 calls sent together of which a third hung timed out five in a row: the
breaker opened again within a few dozen calls of closing, and a protocol of a dozen requests
seldom finished. So each admitted call is numbered, and the breaker opens when ``failures``
calls sent one after the other have all failed (calls that ended without a verdict are passed
over; one still running, or a success, ends the run): as likely at 24 in flight as one at a
time. A dead agency fails every call: the first ``failures`` sent in a row open it.

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

#: verdicts kept for runs of failures: far more than calls in flight at once
_VERDICTS_KEPT = 4096


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
    #: the call's place in the order calls were sent (0 for probes)
    number: int = 0


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
        self._admitted = 0
        #: verdicts of recent calls by their number; None: ended without one
        self._verdicts: dict[int, bool | None] = {}
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
            self._admitted += 1
            return Ticket(self._generation, probe=False, number=self._admitted)
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
        self._verdicts[ticket.number] = ok
        self._forget_old_verdicts()
        run = 0 if ok else self._run_through(ticket.number)
        if run >= self.config.failures or self._rate_exceeded():
            self._open()

    def release(self, ticket: Ticket) -> None:
        """The call ended without a verdict (cancelled, or the agency asked us to slow down)."""
        if ticket.generation != self._generation:
            return
        if ticket.probe:
            self._probing = False
        else:
            self._verdicts[ticket.number] = None  # passed over by a run of failures

    # -- runs of failures -------------------------------------------------------------------

    def _run_through(self, number: int) -> int:
        """Failed calls in a row, in the order sent, through the failed call ``number``."""
        run = 1
        for step in (-1, 1):
            other = number + step
            # a success or a call still running (no verdict yet) ends the run
            while (verdict := self._verdicts.get(other, True)) is not True:
                run += verdict is False
                other += step
        return run

    def _forget_old_verdicts(self) -> None:
        if len(self._verdicts) > 2 * _VERDICTS_KEPT:
            oldest = self._admitted - _VERDICTS_KEPT
            self._verdicts = {n: v for n, v in self._verdicts.items() if n > oldest}

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
        self._verdicts.clear()
        self._unavailable_since = None
        self._move(BreakerState.CLOSED)

    def _move(self, state: BreakerState) -> None:
        self._state = state
        self._generation += 1
        self._probing = False
        self._probe_successes = 0
        if self._on_change is not None:
            self._on_change(state)
