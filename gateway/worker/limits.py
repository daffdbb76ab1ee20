"""Agency limits held across replicas: every HTTP request to an agency passes its gate.

An agency limits what it sees: HTTP requests in flight and HTTP requests per second. One
inquiry may cost several requests (a photo after the identity, ticket polls, twelve township
listings), so the gate sits on each request, in front of the shared ``aiohttp`` session
(``GatedSession``), and knows nothing of connectors.

*In flight*: each replica leases a share of the agency's limit from PostgreSQL
(``agency_permits``, see ``0004_agency_limits.sql``) and hands its share out locally, so a
request costs no database round trip. Shares are rebalanced on each sync: equal among
replicas that want permits, the unneeded remainder to whoever wants more. Leases expire, so
a dead replica's share comes back; a replica that cannot renew stops sending first.

*Rate*: as an agency counts it, at most ``rate`` requests in any one-second window. Replicas
reserve send times, a few at a time, from one shared record per agency (``agency_rate``): a
send time is never earlier than the one ``rate`` before it plus a second plus ``tolerance``.
A send time is used within ``tolerance`` seconds or thrown away, so however late each request
leaves, no window holds more than ``rate`` of them; bursts within the limit go at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from types import TracebackType
from typing import Any

import aiohttp

from gateway.core.metrics import Metrics

#: at most this share of the rate is reserved in one round trip
RATE_BLOCK_SHARE = 0.1

#: reserve this many send times; answers seconds from now until each
Fetch = Callable[[int], Awaitable[list[float]]]

#: requests that passed the gate within the current agency call (set by the caller): a call
#: that sent none (an organisation the agency cannot hold) says nothing about the agency
REQUESTS_SENT: ContextVar[list[int] | None] = ContextVar("requests_sent", default=None)


class Permits:
    """This replica's share of one agency's in-flight limit, handed out in FIFO order."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.held = 0  # granted to us in the database
        self.cap = 0  # how many we may use now (<= held; lower while giving some back)
        self.target = 0  # our fair share at the last sync
        self.in_use = 0
        self.valid_until = 0.0  # our lease, by the local clock, with a margin
        self.starved_elsewhere = 0
        self.global_in_flight = 0
        self.reported_wanted = 0
        self._peak = 0
        self._clock = clock
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.sync_wanted = asyncio.Event()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @property
    def demand(self) -> int:
        return self.in_use + len(self._waiters)

    def idle(self) -> bool:
        """Nothing held, used, wanted or reported as wanted: our row is gone, no sync due."""
        return self.held == 0 and self.demand == 0 and self.reported_wanted == 0

    def contended(self) -> bool:
        """Someone is short of permits: sync often until shares settle."""
        # Waiting because our share is used up, or because our lease lapsed unrenewed (the
        # database was away): either way the next sync should come soon, unless what we may
        # use is the agency's whole limit already: then only our own requests ending helps.
        short_here = bool(self._waiters) and not self._usable() and self._sync_may_help()
        return short_here or self.target < self.held or self.starved_elsewhere > 0

    async def acquire(self) -> None:
        if not self._waiters and self._usable():
            self._take()
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._peak = max(self._peak, self.demand)
        if self._sync_may_help():
            self.sync_wanted.set()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # granted just as we were cancelled: give it back
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        self.in_use -= 1
        self._grant()
        if self.in_use <= self.target < self.held:
            self.sync_wanted.set()  # a surplus permit is free now: give it back

    def plan(self) -> tuple[int, int]:
        """Before a sync: (keep, wanted). From now until the answer we use at most ``keep``."""
        keep = max(self.in_use, min(self.held, self.target))
        self.cap = min(self.cap, keep)
        wanted = max(self._peak, self.demand)
        self._peak = self.demand
        self.reported_wanted = wanted
        return keep, wanted

    def apply(self, held: int, target: int, valid_until: float) -> None:
        self.held = held
        self.target = target
        self.cap = min(held, target)
        self.valid_until = valid_until
        self._grant()

    def expire(self) -> None:
        """Our lease could not be renewed: the database may give our share to others."""
        self.held = self.in_use
        self.cap = 0
        # Our share is unknown until the next sync. Without this the next plan() kept
        # min(held, target): the requests in flight at expiry even after they had ended, and
        # claimed them back from a database that may have given them to another replica
        # meanwhile (the agency's limit exceeded by that many). Kept now: what is in flight.
        self.target = 0

    def _sync_may_help(self) -> bool:
        """Whether a sync might let more requests go: our lease lapsed, or we may use less
        than the agency's whole limit. A replica alone at full load waits for its own
        requests to end; asking the database then (it did, up to a hundred times a second
        per agency) could only answer what it already knows."""
        return self.cap < self.limit or self._clock() >= self.valid_until

    def _usable(self) -> bool:
        return self.in_use < self.cap and self._clock() < self.valid_until

    def _take(self) -> None:
        self.in_use += 1
        self._peak = max(self._peak, self.demand)

    def _grant(self) -> None:
        while self._waiters and self._usable():
            waiter = self._waiters.popleft()
            if waiter.done():
                continue
            self._take()
            waiter.set_result(None)


class RateSlots:
    """Send times reserved from the agency's shared schedule, used in order."""

    def __init__(self, rate: float, tolerance: float, fetch: Fetch) -> None:
        self.tolerance = tolerance
        self._block = max(1, int(rate * RATE_BLOCK_SHARE))
        self._fetch = fetch
        self._slots: deque[float] = deque()
        self._lock = asyncio.Lock()
        self._wanting = 0

    async def take(self) -> None:
        """Return at a reserved send time (never before it, at most ``tolerance`` after)."""
        loop = asyncio.get_running_loop()
        while True:
            at = await self._next()
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if loop.time() - at <= self.tolerance:
                return
            # Woken too late (a busy loop): sending now could crowd the next second.

    async def _next(self) -> float:
        loop = asyncio.get_running_loop()
        self._wanting += 1
        try:
            while True:
                now = loop.time()
                while self._slots and self._slots[0] < now - self.tolerance:
                    self._slots.popleft()  # missed: never use a send time late
                if self._slots:
                    return self._slots.popleft()
                async with self._lock:
                    if self._slots:
                        continue
                    count = min(self._block, max(1, self._wanting))
                    offsets = await self._fetch(count)
                    # Measured from after the answer came: never earlier than the database
                    # meant, whatever our clock says.
                    base = loop.time()
                    self._slots.extend(base + max(0.0, offset) for offset in offsets)
        finally:
            self._wanting -= 1


class AgencyGate:
    """What one HTTP request to an agency must pass: a permit, then a send time."""

    def __init__(
        self,
        agency: str,
        permits: Permits,
        slots: RateSlots | None,
        metrics: Metrics,
        linger: float,
    ) -> None:
        self.agency = agency
        self.permits = permits
        self.slots = slots
        self._linger = linger
        #: requests past the gate and not yet answered; the gauge reads it when scraped (a
        #: gauge set on every request cost two locked updates per request)
        self.in_flight = 0
        metrics.in_flight.labels(agency).set_function(lambda: self.in_flight)
        self._wait = metrics.limit_wait.labels(agency)
        #: the agency's own time per request (after the gate), for health reports
        self.latencies: deque[float] = deque(maxlen=1000)

    def median_latency(self) -> float | None:
        return statistics.median(self.latencies) if self.latencies else None

    async def enter(self) -> float:
        """Wait for a permit and a send time; returns when the request may go."""
        started = time.perf_counter()
        await self.permits.acquire()
        try:
            if self.slots is not None:
                await self.slots.take()
        except BaseException:
            self.permits.release()
            raise
        self._wait.observe(time.perf_counter() - started)
        self.in_flight += 1
        sent = REQUESTS_SENT.get()
        if sent is not None:
            sent[0] += 1
        return time.perf_counter()

    def leave(self, failed: bool, since: float) -> None:
        self.in_flight -= 1
        if not failed:
            self.latencies.append(time.perf_counter() - since)
        if failed and self._linger > 0:
            # Timed out, reset or cancelled: the agency may still be working on the request
            # (it notices a closed connection only later), so keep its permit a little longer.
            asyncio.get_running_loop().call_later(self._linger, self.permits.release)
        else:
            self.permits.release()


class GatedSession:
    """An ``aiohttp.ClientSession`` whose every request passes an agency's gate first."""

    def __init__(self, session: aiohttp.ClientSession, gate: AgencyGate) -> None:
        self._session = session
        self.gate = gate

    def request(self, method: str, url: str, **kwargs: Any) -> _GatedRequest:
        return _GatedRequest(self._session, self.gate, method, url, kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


class _GatedRequest:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        gate: AgencyGate,
        method: str,
        url: str,
        kwargs: dict[str, Any],
    ) -> None:
        self._session = session
        self._gate = gate
        self._args = (method, url)
        self._kwargs = kwargs
        self._request: Any = None
        self._since = 0.0

    async def __aenter__(self) -> aiohttp.ClientResponse:
        self._since = await self._gate.enter()
        try:
            # The per-request timeout starts here, after the gate: waiting for a permit or a
            # send time is not the agency's slowness.
            self._request = self._session.request(*self._args, **self._kwargs)
            return await self._request.__aenter__()
        except BaseException:
            self._gate.leave(True, self._since)
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._request.__aexit__(exc_type, exc, tb)
        finally:
            self._gate.leave(exc_type is not None, self._since)
