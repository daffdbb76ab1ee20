"""What makes a stand-in agency behave like a real one: latency, limits and faults.

One ``AgencyControl`` per mock holds its configuration (changeable at run time through the
admin endpoints or ``mocks.testing``) and its statistics; ``control_middleware`` applies it
to every non-admin request. Faults and latencies come from seeded RNGs, one draw per request,
so a sequential run is reproducible.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
from collections import Counter, OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: fault kinds a request may draw, in the fixed order the cumulative draw walks them
FAULT_KINDS: tuple[str, ...] = (
    "500",
    "503",
    "429",
    "hang",
    "reset",
    "truncate",
    "malformed",
    "content_type",
    "400",  # last, so adding it changed no earlier kind's draws
)
#: how long a hung request sleeps: past any sane timeout (cancelled on shutdown/disconnect)
HANG_S = 600.0


class ConfigError(ValueError):
    """A fault, limit or latency setting is invalid."""


@dataclass(frozen=True, slots=True)
class Faults:
    """Share of requests that fail in each way, plus a full outage switch."""

    rates: Mapping[str, float] = field(default_factory=dict[str, float])
    outage: bool = False

    @classmethod
    def parse(cls, spec: Mapping[str, Any] | None) -> Faults:
        """From ``{"500": 0.1, "hang": 0.05, "outage": true}``; unknown kinds are refused."""
        rates: dict[str, float] = {}
        outage = False
        for key, value in (spec or {}).items():
            if key == "outage":
                if not isinstance(value, bool):
                    raise ConfigError("outage must be true or false")
                outage = value
                continue
            if key not in FAULT_KINDS:
                raise ConfigError(f"unknown fault kind {key!r}; known: {', '.join(FAULT_KINDS)}")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"fault {key!r} needs a fraction between 0 and 1")
            if not 0 <= value <= 1:
                raise ConfigError(f"fault {key!r} needs a fraction between 0 and 1")
            if value:
                rates[key] = float(value)
        if sum(rates.values()) > 1 + 1e-9:
            raise ConfigError("fault fractions add up to more than 1")
        return cls(rates, outage)

    def to_json(self) -> dict[str, Any]:
        return {**self.rates, "outage": self.outage}


@dataclass(frozen=True, slots=True)
class Limits:
    """What the agency tolerates; beyond it, 503 (too many in flight) or 429 (too fast)."""

    max_in_flight: int | None = None
    max_per_second: float | None = None

    @classmethod
    def parse(cls, spec: Mapping[str, Any]) -> Limits:
        values: dict[str, Any] = {}
        for key in ("max_in_flight", "max_per_second"):
            value = spec.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or value <= 0
            ):
                raise ConfigError(f"{key} must be a positive number or null")
            values[key] = value
        if values["max_in_flight"] is not None:
            values["max_in_flight"] = int(values["max_in_flight"])
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return {"max_in_flight": self.max_in_flight, "max_per_second": self.max_per_second}


UNLIMITED = Limits()
#: defaults for ``python -m mocks``: a little above the gateway's own per-agency limits, so a
#: well-behaved gateway never trips them and a misbehaving one does. Subsidy and the polling
#: agencies make several HTTP requests per subject, hence their higher request rates.
DEFAULT_LIMITS: dict[str, Limits] = {
    "household": Limits(24, 80),
    "realestate": Limits(16, 60),
    "vehicle": Limits(6, 15),
    "forestry": Limits(6, 8),
    "subsidy": Limits(32, 250),
    "police": Limits(8, 40),
}


@dataclass(frozen=True, slots=True)
class Latency:
    """Seconds (low, high) per request, and until an async ticket/ack is ready."""

    request: tuple[float, float] = (0.0, 0.0)
    ready: tuple[float, float] = (0.0, 0.0)


ZERO = Latency()
REALISTIC: dict[str, Latency] = {
    "household": Latency(request=(0.05, 0.15)),
    "realestate": Latency(request=(0.03, 0.10), ready=(2.0, 5.0)),
    "vehicle": Latency(request=(0.2, 0.5)),
    "forestry": Latency(request=(1.0, 2.0)),
    "subsidy": Latency(request=(0.1, 0.3)),
    "police": Latency(request=(0.05, 0.15), ready=(0.3, 0.8)),
}
PROFILES = ("realistic", "zero")


def latency_profile(agency: str, profile: str) -> Latency:
    if profile == "zero":
        return ZERO
    if profile == "realistic":
        return REALISTIC[agency]
    raise ConfigError(f"unknown latency profile {profile!r}; known: {', '.join(PROFILES)}")


@dataclass(slots=True)
class Stats:
    """What the agency saw; ``requests`` counts every non-admin request, refused or not."""

    requests: int = 0
    by_officer: Counter[str] = field(default_factory=Counter[str])
    by_status: Counter[int] = field(default_factory=Counter[int])
    faults: Counter[str] = field(default_factory=Counter[str])
    breaches: Counter[str] = field(default_factory=Counter[str])
    missing_requester: int = 0
    peak_in_flight: int = 0
    #: how often each subject was asked about (once per question: the household identity,
    #: the registry's ticket, each vehicle in a group, the forest query, the police filing,
    #: the subsidy's first township's first page), so that a benchmark can count the
    #: questions asked twice (bench/chaos.py)
    asked: Counter[str] = field(default_factory=Counter[str])
    #: requests the control desk handled (``/v1/controls...``, past the requester check,
    #: limits and any failure injected before the handler), and the holds they created (a
    #: request answered again by its idempotency key creates none)
    control_requests: int = 0
    holds_created: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_officer": dict(self.by_officer),
            "by_status": {str(k): v for k, v in self.by_status.items()},
            "faults": dict(self.faults),
            "breaches": dict(self.breaches),
            "breaches_total": sum(self.breaches.values()),
            "missing_requester": self.missing_requester,
            "peak_in_flight": self.peak_in_flight,
            "subjects_asked": len(self.asked),
            "asked_again": sum(count - 1 for count in self.asked.values()),
            "control_requests": self.control_requests,
            "holds_created": self.holds_created,
        }


def _seed(agency: str, seed: int, purpose: str) -> int:
    digest = hashlib.blake2b(f"{purpose}:{agency}:{seed}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class Memory:
    """What an agency remembers between requests (tickets, acks, photo numbers).

    Bounded, oldest forgotten first, so a long benchmark cannot grow it without end; cleared
    by ``reset`` so that tests start from a blank agency.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._limit = limit

    def get(self, key: str) -> Any:
        return self._items.get(key)

    def put(self, key: str, value: Any) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self._limit:
            self._items.popitem(last=False)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def clear(self) -> None:
        self._items.clear()


class AgencyControl:
    """Configuration and state of one stand-in agency."""

    def __init__(
        self,
        agency: str,
        *,
        faults: Faults | None = None,
        limits: Limits = UNLIMITED,
        latency: Latency = ZERO,
        seed: int = 0,
        control_state: Path | None = None,
    ) -> None:
        self.agency = agency
        self.seed = seed
        #: the file the control desk keeps its holds in (``mocks.controls``); None: memory only
        self.control_state = control_state
        self._initial = (faults or Faults(), limits, latency)
        self.faults, self.limits, self.latency = self._initial
        self.stats = Stats()
        self.memory = Memory()
        self.in_flight = 0
        self._window: deque[float] = deque()
        self._fault_rng = random.Random(_seed(agency, seed, "faults"))
        self._latency_rng = random.Random(_seed(agency, seed, "latency"))
        self._closing: asyncio.Event | None = None

    def reset(self) -> None:
        """Back to the start-up configuration: empty statistics and memory, reseeded RNGs."""
        self.faults, self.limits, self.latency = self._initial
        self.stats = Stats()
        self.memory.clear()
        self._window.clear()
        self._fault_rng = random.Random(_seed(self.agency, self.seed, "faults"))
        self._latency_rng = random.Random(_seed(self.agency, self.seed, "latency"))

    def restarted(self) -> AgencyControl:
        """A control as this agency starts with again after a restart: the same start-up
        configuration and state file, fresh statistics, memory and RNGs."""
        faults, limits, latency = self._initial
        return AgencyControl(
            self.agency,
            faults=faults,
            limits=limits,
            latency=latency,
            seed=self.seed,
            control_state=self.control_state,
        )

    def draw_fault(self) -> str | None:
        """One draw per request, even when no fault is set, so runs stay aligned."""
        roll = self._fault_rng.random()
        for kind in FAULT_KINDS:
            roll -= self.faults.rates.get(kind, 0.0)
            if roll < 0:
                return kind
        return None

    def request_delay(self) -> float:
        return self._draw(self.latency.request)

    def ready_delay(self) -> float:
        return self._draw(self.latency.ready)

    def _draw(self, span: tuple[float, float]) -> float:
        low, high = span
        return 0.0 if high <= 0 else self._latency_rng.uniform(low, high)

    def admit(self, now: float) -> tuple[int, str] | None:
        """None to let the request in, else (status, breach kind) to refuse it with."""
        limits = self.limits
        if limits.max_in_flight is not None and self.in_flight >= limits.max_in_flight:
            self.stats.breaches["in_flight"] += 1
            return 503, "in_flight"
        if limits.max_per_second is not None:
            while self._window and self._window[0] <= now - 1.0:
                self._window.popleft()
            if len(self._window) >= limits.max_per_second:
                self.stats.breaches["rate"] += 1
                return 429, "rate"
            self._window.append(now)
        return None

    def retry_after(self, now: float) -> int:
        """Whole seconds until the rate window has room again (at least 1)."""
        if not self._window:
            return 1
        return max(1, math.ceil(self._window[0] + 1.0 - now))

    async def hang(self) -> None:
        """Sleep past any timeout; wake at once when the server shuts down."""
        if self._closing is None:
            self._closing = asyncio.Event()
        try:
            await asyncio.wait_for(self._closing.wait(), HANG_S)
        except TimeoutError:
            pass

    async def close(self, _app: object = None) -> None:
        """on_shutdown hook: release hung requests so shutdown is quick."""
        if self._closing is None:
            self._closing = asyncio.Event()
        self._closing.set()
