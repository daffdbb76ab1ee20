"""What one replica keeps per agency: its gated connector, breaker, retry budget and caller."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from connectors.base import Connector
from gateway.core.errors import DatabaseError
from gateway.core.metrics import Metrics
from gateway.core.settings import AgencySettings, Settings
from gateway.store import db, inquiries
from gateway.store.db import Pool
from gateway.worker.backoff import FullJitterBackoff
from gateway.worker.breaker import BreakerConfig, BreakerState, CircuitBreaker
from gateway.worker.budget import BudgetConfig, RetryBudget
from gateway.worker.calls import AgencyCaller
from gateway.worker.limits import AgencyGate, GatedSession
from gateway.worker.transport import AgencyTransport

log = structlog.get_logger("gateway.agency")

_STATE_VALUE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


@dataclass
class AgencyRuntime:
    name: str
    settings: AgencySettings
    connector: Connector
    gate: AgencyGate
    transport: AgencyTransport
    caller: AgencyCaller
    max_calls: int

    @property
    def breaker(self) -> CircuitBreaker:
        return self.transport.breaker

    @property
    def budget(self) -> RetryBudget:
        return self.transport.budget

    def health(self) -> dict[str, Any]:
        """This replica's view of the agency (the API adds what the database knows)."""
        breaker = self.breaker
        recent = self.caller.recent
        median = self.gate.median_latency()
        error_rate = recent.error_rate()
        unavailable = breaker.unavailable_for()
        permits = self.gate.permits
        return {
            "breaker": {
                "state": breaker.state.value,
                "retry_in_seconds": round(breaker.retry_in(), 3),
                "unavailable_for_seconds": None if unavailable is None else round(unavailable, 1),
                "opened_total": breaker.opened,
            },
            "in_flight_local": permits.in_use,
            "permits_held": permits.held,
            "recent": {
                "requests": recent.count(),
                "error_rate": None if error_rate is None else round(error_rate, 4),
                # per HTTP request, after the gate: the agency's time, not our queueing
                "median_latency_ms": None if median is None else round(median * 1000, 1),
            },
            "retry_budget": {k: int(v) for k, v in self.budget.snapshot().items()},
        }

    def export_metrics(self, metrics: Metrics) -> None:
        error_rate = self.caller.recent.error_rate()
        median = self.gate.median_latency()
        metrics.recent_error_rate.labels(self.name).set(error_rate or 0.0)
        metrics.recent_latency.labels(self.name).set(median or 0.0)
        metrics.breaker_state.labels(self.name).set(_STATE_VALUE[self.breaker.state])


def build_runtimes(
    connectors: Mapping[str, Connector],
    settings: Settings,
    metrics: Metrics,
    gates: Mapping[str, AgencyGate],
    moved: Callable[[str, BreakerState], None],
) -> dict[str, AgencyRuntime]:
    breaker_config = BreakerConfig.from_settings(settings)
    budget_config = BudgetConfig.from_settings(settings)
    runtimes: dict[str, AgencyRuntime] = {}
    for name, plain in connectors.items():
        agency = settings.agencies[name]
        gate = gates[name]
        breaker = CircuitBreaker(breaker_config, on_change=_on_change(name, metrics, moved))
        transport = AgencyTransport(
            agency=name,
            breaker=breaker,
            budget=RetryBudget(budget_config),
            backoff=FullJitterBackoff(settings.backoff_base, settings.backoff_cap),
            metrics=metrics,
            attempts=settings.request_attempts,
            max_inline_wait=settings.max_inline_wait,
        )
        # The same connector, its every HTTP request retried by itself and passing the gate.
        connector = dataclasses.replace(
            plain, session=GatedSession(plain.session, gate), transport=transport
        )
        max_calls = settings.agency_max_calls(name)
        caller = AgencyCaller(
            connector=connector,
            transport=transport,
            calls=asyncio.Semaphore(max_calls),
            metrics=metrics,
            max_attempts=settings.agency_max_attempts(name),
            backoff=FullJitterBackoff(settings.backoff_base, settings.backoff_cap),
            requeue_backoff=FullJitterBackoff(settings.backoff_base, settings.requeue_backoff_cap),
            max_inline_wait=settings.max_inline_wait,
        )
        runtimes[name] = AgencyRuntime(name, agency, connector, gate, transport, caller, max_calls)
        metrics.breaker_state.labels(name).set(0)
    return runtimes


def _on_change(
    agency: str, metrics: Metrics, moved: Callable[[str, BreakerState], None]
) -> Callable[[BreakerState], None]:
    def changed(state: BreakerState) -> None:
        metrics.breaker_state.labels(agency).set(_STATE_VALUE[state])
        if state is BreakerState.OPEN:
            metrics.breaker_opened.labels(agency).inc()
        log.info("breaker_" + state.value, agency=agency)
        moved(agency, state)  # the claim loop decides anew: stop, probe, or go at full speed

    return changed


async def due_now(pool: Pool, agency: str, wake: Callable[[str], None]) -> None:
    """The agency is back: what was put off for it may be claimed at once."""
    try:
        async with db.connection(pool) as conn:
            await inquiries.due_now(conn, agency)
    except DatabaseError as exc:
        log.warning("due_now_failed", agency=agency, error=type(exc).__name__)
    wake(agency)
