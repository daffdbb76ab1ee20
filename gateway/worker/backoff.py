"""How long to wait before asking again, and what the last requests to an agency did."""

from __future__ import annotations

import random
import statistics
import time
from collections import deque
from dataclasses import dataclass, field

from connectors.errors import AgencyRateLimited


@dataclass
class FullJitterBackoff:
    """AWS's "exponential backoff with full jitter", and at least what ``Retry-After`` asked
    (not capped: the agency said when; a long wait requeues the inquiry instead)."""

    base: float
    cap: float
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempts: int, exc: BaseException | None = None) -> float:
        ceiling = min(self.cap, self.base * 2 ** max(0, attempts - 1))
        delay = self.rng.uniform(0, ceiling)
        if isinstance(exc, AgencyRateLimited) and exc.retry_after is not None:
            delay = max(delay, exc.retry_after)
        return delay


@dataclass
class RecentRequests:
    """The last requests to one agency (or calls), for health reports and the demo."""

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
