"""A retry budget per agency (after Finagle's RetryBudget and Envoy's retry budgets).

Retries may add at most ``ratio`` (20%) on top of first attempts over a sliding ``window``.
So that a quiet agency's rare failures are still retried, at least ``min_per_second`` retries
are allowed over the window however few the first attempts (Finagle's ``minRetriesPerSec``).
Unlike Finagle's, that floor is not added to the ratio's allowance but is a lower bound on it:
under load (an outage with traffic) retries stay within the ratio.

A denied retry is not a failure: the dispatcher gives the inquiry back to the queue to be tried
later, and it asks the budget again then.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from gateway.core.settings import Settings

#: width of one counting bucket, seconds: counts are kept per bucket, not per event
_BUCKET = 0.25


class _WindowCount:
    """Events in the last ``window`` seconds, counted in buckets (memory independent of rate)."""

    def __init__(self, window: float, clock: Callable[[], float]) -> None:
        self._window = window
        self._clock = clock
        self._buckets: deque[list[float]] = deque()  # [bucket start, count]
        self._total = 0.0

    def add(self, n: float = 1.0) -> None:
        now = self._clock()
        start = now - now % _BUCKET
        if self._buckets and self._buckets[-1][0] == start:
            self._buckets[-1][1] += n
        else:
            self._buckets.append([start, n])
        self._total += n

    def total(self) -> float:
        horizon = self._clock() - self._window
        while self._buckets and self._buckets[0][0] + _BUCKET <= horizon:
            self._total -= self._buckets.popleft()[1]
        return self._total


@dataclass(frozen=True, slots=True)
class BudgetConfig:
    ratio: float = 0.2
    window: float = 10.0
    min_per_second: float = 1.0

    @classmethod
    def from_settings(cls, settings: Settings) -> BudgetConfig:
        return cls(
            ratio=settings.retry_budget_ratio,
            window=settings.retry_budget_window,
            min_per_second=settings.retry_budget_min_per_second,
        )


class RetryBudget:
    def __init__(self, config: BudgetConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._firsts = _WindowCount(config.window, clock)
        self._retries = _WindowCount(config.window, clock)
        self._denials = _WindowCount(config.window, clock)
        self.allowed = 0
        self.denied = 0

    def first_attempt(self, n: int = 1) -> None:
        self._firsts.add(n)

    def try_retry(self) -> bool:
        """Take one retry from the budget if it has one."""
        config = self.config
        allowance = max(config.ratio * self._firsts.total(), config.min_per_second * config.window)
        if self._retries.total() + 1 <= allowance:
            self._retries.add()
            self.allowed += 1
            return True
        self.denied += 1
        self._denials.add()
        return False

    def wait_hint(self) -> float:
        """Roughly when a denied retry may find room: the recent denials ahead of it, at the
        rate the budget refills, at most a quarter of the window. Spreads deferred inquiries
        out instead of all asking again at once, without leaving them long behind once first
        attempts (which refill the budget) flow again."""
        config = self.config
        rate = max(config.min_per_second, config.ratio * self._firsts.total() / config.window)
        ceiling = config.window / 4
        if rate <= 0:
            return ceiling
        return min(ceiling, self._denials.total() / rate)

    def snapshot(self) -> dict[str, float]:
        return {
            "first_attempts": self._firsts.total(),
            "retries": self._retries.total(),
            "denied_total": self.denied,
        }
