"""Two gateway replicas on one database against agencies with tight limits: together they stay
within every agency's in-flight and rate limits (the mocks count zero breaches), because the
limits are held in PostgreSQL rather than per process."""

from __future__ import annotations

from typing import Any

from connectors.registry import AGENCIES
from gateway.http.keys import METRICS
from mocks.faults import Latency
from mocks.population import sample_ids
from tests.conftest import Gateway
from tests.integration.worker.conftest import (
    StartGateway,
    agencies,
    assert_equal_to_truth,
    body,
    until,
)

SUBJECTS = 40
#: (max in flight, max requests/s) per agency, for the mocks and the gateway. The forestry
#: bureau is slow, so its in-flight limit binds; the others' rates bind. The gateway's rates are
#: set 10% under the agencies': here both replicas and all six agencies share one event loop,
#: whose stalls can delay one request's arrival more than the next one's.
LIMITS: dict[str, tuple[int, float]] = {
    "household": (3, 25.0),
    "realestate": (3, 25.0),
    "vehicle": (2, 10.0),
    "forestry": (2, 50.0),
    "subsidy": (6, 150.0),
    "police": (3, 25.0),
}


def calls_made(gateway: Gateway, agency: str) -> float:
    registry = gateway.client.app[METRICS].registry
    total = 0.0
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name == "gateway_agency_calls_total" and sample.labels["agency"] == agency:
                total += sample.value
    return total


async def test_two_replicas_together_stay_within_the_agencies_limits(
    start_gateway: StartGateway, mocks: Any
) -> None:
    for agency, (in_flight, rate) in LIMITS.items():
        mocks.set_limits(agency, max_in_flight=in_flight, max_per_second=rate)
    mocks.set_latency("forestry", Latency(request=(0.08, 0.12)))
    mocks.set_latency("household", Latency(request=(0.005, 0.01)))
    settings = agencies(
        mocks.urls,
        **{name: {"max_in_flight": f, "max_rps": r * 0.9} for name, (f, r) in LIMITS.items()},
    )
    first = await start_gateway(agencies=settings)
    second = await start_gateway(agencies=settings)

    created = await first.submit(body(sample_ids(SUBJECTS, seed=77)))
    batch_id = created["id"]

    async def finished() -> bool:
        async with first.pool.acquire() as conn:
            status = await conn.fetchval("SELECT status FROM batches WHERE id = $1", batch_id)
        return status == "done"

    await until(finished, timeout=90, interval=0.1)

    for agency in AGENCIES:
        stats = mocks.stats(agency)
        assert stats["breaches_total"] == 0, (agency, stats["breaches"])
        assert stats["peak_in_flight"] <= LIMITS[agency][0], agency
    # The limits were under pressure, and both replicas worked each agency.
    assert mocks.stats("forestry")["peak_in_flight"] == LIMITS["forestry"][0]
    for agency in ("household", "forestry", "police"):
        assert calls_made(first, agency) > 0 and calls_made(second, agency) > 0, agency
    results = await first.all_results(batch_id)
    assert len(results) == SUBJECTS * len(AGENCIES)
    assert_equal_to_truth(results, mocks)
