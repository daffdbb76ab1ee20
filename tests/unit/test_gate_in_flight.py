"""The in-flight gauge of an agency: requests past its gate and not yet answered, as a
scrape reads it (the gate counts; the gauge is read when scraped)."""

from __future__ import annotations

import time

from gateway.core.metrics import Metrics
from gateway.worker.limits import AgencyGate, Permits


def in_flight(metrics: Metrics) -> float | None:
    return metrics.registry.get_sample_value("gateway_agency_in_flight", {"agency": "vehicle"})


async def test_a_scrape_reads_the_requests_past_the_gate() -> None:
    metrics = Metrics()
    permits = Permits(4)
    permits.apply(4, 4, time.monotonic() + 3600)
    gate = AgencyGate("vehicle", permits, None, metrics, linger=0.0)
    assert in_flight(metrics) == 0
    first, second = await gate.enter(), await gate.enter()
    assert in_flight(metrics) == 2
    gate.leave(False, first)
    assert in_flight(metrics) == 1
    gate.leave(True, second)  # failed: no longer in flight, whatever its permit does
    assert in_flight(metrics) == 0
    assert permits.in_use == 0
