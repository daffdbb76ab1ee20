"""Keeps each agency's gate in step with the other replicas through PostgreSQL.

One sync task per agency renews this replica's permit lease and rebalances shares: every
``sync_seconds`` while it holds permits, at once when its requests are short of them, and
every ``FAST_SYNC`` seconds while shares are moving. An agency this replica does not use costs
no database traffic at all. Send times are fetched on demand by the gate itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

import structlog

from gateway.core.errors import DatabaseError
from gateway.core.metrics import Metrics
from gateway.core.settings import AgencySettings, Settings
from gateway.store import db
from gateway.store import limits as store
from gateway.store.db import Pool
from gateway.worker.limits import AgencyGate, Fetch, Permits, RateSlots
from gateway.worker.supervise import spawn

log = structlog.get_logger("gateway.limits")

#: sync cadence while shares are moving (a replica is short, or giving some back)
FAST_SYNC = 0.05
#: never sync one agency more often than this
MIN_GAP = 0.01


class GlobalLimits:
    """The gates of every agency for one replica, and the tasks that keep them global."""

    def __init__(
        self,
        pool: Pool,
        owner: str,
        agencies: Mapping[str, AgencySettings],
        settings: Settings,
        metrics: Metrics,
    ) -> None:
        self._pool = pool
        self._owner = owner
        self._settings = settings
        self._metrics = metrics
        self._agencies = agencies
        self._tasks: list[asyncio.Task[None]] = []
        self.gates: dict[str, AgencyGate] = {}
        for name, agency in agencies.items():
            permits = Permits(max(1, agency.max_in_flight))
            slots = None
            if agency.max_rps > 0:
                slots = RateSlots(agency.max_rps, settings.rate_tolerance, self._fetcher(name))
            self.gates[name] = AgencyGate(name, permits, slots, metrics, settings.limit_linger)

    async def start(self) -> None:
        # Supervised like the dispatcher's loops: a sync loop that died (it once did, on an
        # error the store did not translate) would leave its agency's requests waiting for
        # permits for ever, the lease lapsed and nothing left to renew it.
        self._tasks = [
            spawn(f"limits-{name}", lambda name=name: self._sync_loop(name)) for name in self.gates
        ]

    async def stop(self, within: float = 2.0) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # Hand our shares back now rather than when the lease runs out, if the database
        # answers within ``within`` seconds.
        with contextlib.suppress(DatabaseError, TimeoutError):
            async with asyncio.timeout(within), db.connection(self._pool) as conn:
                await store.release_permits(conn, self._owner)

    def _fetcher(self, agency: str) -> Fetch:
        rate = self._agencies[agency].max_rps
        # "rate" requests in any second; a rate under 1/s is 1 request in 1/rate seconds.
        count = max(1, int(rate))
        window = max(1.0, count / rate)

        async def fetch(wanted: int) -> list[float]:
            delay = 0.05
            while True:
                try:
                    async with db.connection(self._pool) as conn:
                        return await store.reserve_send_times(
                            conn, agency, wanted, count, window, self._settings.rate_tolerance
                        )
                except DatabaseError as exc:
                    # No send time, no request: waiting is the safe side of the limit.
                    log.warning("rate_slots_failed", agency=agency, error=type(exc).__name__)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)

        return fetch

    async def _sync_loop(self, agency: str) -> None:
        permits = self.gates[agency].permits
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            if permits.idle() and not permits.contended():
                timeout = None  # nothing held, nothing wanted: no traffic until a request
            elif permits.contended() or failures:
                timeout = FAST_SYNC * (2 ** min(failures, 6))
            else:
                timeout = self._settings.limit_sync_seconds
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await permits.sync_wanted.wait()
            permits.sync_wanted.clear()
            sent_at = loop.time()
            keep, wanted = permits.plan()
            try:
                async with db.connection(self._pool) as conn:
                    row = await store.sync_permits(
                        conn,
                        agency,
                        self._owner,
                        permits.limit,
                        keep,
                        wanted,
                        permits.in_use,
                        self._settings.limit_lease_seconds,
                    )
                failures = 0
            except DatabaseError as exc:
                failures += 1
                log.warning("permit_sync_failed", agency=agency, error=type(exc).__name__)
                if loop.time() >= permits.valid_until:
                    permits.expire()
                continue
            # Stop using the lease a fifth of its length before the database would let others
            # take it over: our clock and the database's need not agree to the millisecond.
            lease = self._settings.limit_lease_seconds
            permits.starved_elsewhere = row["starved"]
            permits.global_in_flight = row["in_flight"]
            permits.apply(row["held"], row["target"], sent_at + lease * 0.8)
            self._metrics.in_flight_global.labels(agency).set(row["in_flight"])
            await asyncio.sleep(MIN_GAP)
