"""Settings for retries, retry budgets, circuit breakers and global agency limits.

Read from ``GATEWAY_*`` variables by ``Settings.from_env`` (see ``gateway/settings.py``):

=======================================  ========  ==============================================
variable                                 default   meaning
=======================================  ========  ==============================================
GATEWAY_BREAKER_FAILURES                 5         consecutive failures that open a breaker
GATEWAY_BREAKER_FAILURE_RATE             0.5       ... or this share of failures
GATEWAY_BREAKER_MIN_CALLS                20        ... over at least this many calls
GATEWAY_BREAKER_WINDOW                   30        seconds of calls the share is taken over
GATEWAY_BREAKER_PROBE_DELAY              5         seconds open before probing again
GATEWAY_BREAKER_PROBES                   3         successful probes (one at a time) to close
GATEWAY_UNAVAILABLE_AFTER                1800      seconds an inquiry waits on an unavailable
                                                   agency before it fails "agency unavailable"
GATEWAY_RETRY_BUDGET_RATIO               0.2       retries per first attempt, over the window
GATEWAY_RETRY_BUDGET_WINDOW              10        seconds
GATEWAY_RETRY_BUDGET_MIN_PER_SECOND      1         retries allowed however few first attempts
GATEWAY_MAX_INLINE_WAIT                  5         longer backoffs give the inquiry back to the
                                                   queue instead of sleeping on it
GATEWAY_LIMIT_LEASE_SECONDS              5         lease on this replica's share of in-flight
GATEWAY_LIMIT_SYNC_SECONDS               0.5       how often shares are renewed and rebalanced
GATEWAY_LIMIT_LINGER                     0.1       seconds a failed request keeps its permit
GATEWAY_RATE_TOLERANCE                   0.2       seconds a send time may be used late (a
                                                   window is taken this much longer): covers
                                                   our lateness and the agency's queueing
GATEWAY_AGENCY_<NAME>_MAX_ATTEMPTS       global    attempts per inquiry for one agency
GATEWAY_AGENCY_<NAME>_MAX_CALLS          2 x       connector calls at once per replica
                                         in flight
=======================================  ========  ==============================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from connectors.registry import AGENCIES
from gateway.breaker import BreakerConfig
from gateway.budget import BudgetConfig


@dataclass(frozen=True, slots=True)
class ResilienceSettings:
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    unavailable_after: float = 1800.0
    max_inline_wait: float = 5.0
    limit_lease_seconds: float = 5.0
    limit_sync_seconds: float = 0.5
    limit_linger: float = 0.1
    rate_tolerance: float = 0.2
    #: per-agency overrides of ``Settings.max_attempts``
    max_attempts: Mapping[str, int] = field(default_factory=dict)
    #: per-agency connector calls at once per replica (default: twice the in-flight limit)
    max_calls: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ResilienceSettings:
        """Raises ValueError on a malformed value (``Settings.from_env`` reports it)."""
        base = cls()
        b, r = base.breaker, base.budget

        def number(name: str, default: float) -> float:
            value = float(env.get(name, default))
            if value < 0:
                raise ValueError(f"{name} must not be negative")
            return value

        breaker = BreakerConfig(
            failures=int(number("GATEWAY_BREAKER_FAILURES", b.failures)),
            failure_rate=number("GATEWAY_BREAKER_FAILURE_RATE", b.failure_rate),
            min_calls=int(number("GATEWAY_BREAKER_MIN_CALLS", b.min_calls)),
            window=number("GATEWAY_BREAKER_WINDOW", b.window),
            probe_delay=number("GATEWAY_BREAKER_PROBE_DELAY", b.probe_delay),
            probes=int(number("GATEWAY_BREAKER_PROBES", b.probes)),
        )
        budget = BudgetConfig(
            ratio=number("GATEWAY_RETRY_BUDGET_RATIO", r.ratio),
            window=number("GATEWAY_RETRY_BUDGET_WINDOW", r.window),
            min_per_second=number("GATEWAY_RETRY_BUDGET_MIN_PER_SECOND", r.min_per_second),
        )
        per_agency: dict[str, dict[str, int]] = {"MAX_ATTEMPTS": {}, "MAX_CALLS": {}}
        for name in AGENCIES:
            for key, found in per_agency.items():
                value = env.get(f"GATEWAY_AGENCY_{name.upper()}_{key}")
                if value is not None:
                    found[name] = int(value)
                    if found[name] < 1:
                        raise ValueError(f"GATEWAY_AGENCY_{name.upper()}_{key} must be >= 1")
        return cls(
            breaker=breaker,
            budget=budget,
            unavailable_after=number("GATEWAY_UNAVAILABLE_AFTER", base.unavailable_after),
            max_inline_wait=number("GATEWAY_MAX_INLINE_WAIT", base.max_inline_wait),
            limit_lease_seconds=number("GATEWAY_LIMIT_LEASE_SECONDS", base.limit_lease_seconds),
            limit_sync_seconds=number("GATEWAY_LIMIT_SYNC_SECONDS", base.limit_sync_seconds),
            limit_linger=number("GATEWAY_LIMIT_LINGER", base.limit_linger),
            rate_tolerance=number("GATEWAY_RATE_TOLERANCE", base.rate_tolerance),
            max_attempts=per_agency["MAX_ATTEMPTS"],
            max_calls=per_agency["MAX_CALLS"],
        )
