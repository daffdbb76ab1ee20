"""An agency down for 30 s: its breaker opens, its inquiries wait without burning attempts
(at most 1.2 attempts per inquiry), the other agencies finish meanwhile, and its inquiries
finish within 10 s of its return. Health shows it all at GET /v1/agencies."""

from __future__ import annotations

import asyncio
from typing import Any

from connectors.registry import AGENCIES
from gateway.http.keys import DISPATCHER
from gateway.worker.breaker import BreakerState
from mocks.population import kind_of, sample_ids
from tests.conftest import Gateway
from tests.integration.worker.conftest import (
    StartGateway,
    agencies,
    assert_equal_to_truth,
    body,
    done_count,
    until,
)

OUTAGE_SECONDS = 30.0
SUBJECTS = 200
DOWN = "forestry"
#: fast enough that the backlog can be cleared within 10 s of the agency's return
FAST = {"max_rps": 0, "max_in_flight": 8}


async def agency_health(gateway: Gateway, role: str = "commander") -> dict[str, Any]:
    headers = await gateway.headers(role=role, team=None if role == "commander" else "team-a")
    response = await gateway.client.get("/v1/agencies", headers=headers)
    assert response.status == 200
    return {item["name"]: item for item in (await response.json())["agencies"]}


async def test_an_agency_down_for_30_s_opens_its_breaker_and_nothing_else_waits(
    start_gateway: StartGateway, mocks: Any
) -> None:
    gateway = await start_gateway(
        agencies=agencies(mocks.urls, **dict.fromkeys(AGENCIES, FAST)),
        breaker_probe_delay=5.0,  # the default probe delay
    )
    loop = asyncio.get_running_loop()
    mocks.set_faults(DOWN, {"outage": True})
    outage_began = loop.time()
    subjects = sample_ids(SUBJECTS, seed=55)
    created = await gateway.submit(body(subjects))
    batch_id = created["id"]
    breaker = gateway.client.app[DISPATCHER].agencies[DOWN].breaker

    # The other five agencies finish while the outage lasts.
    others = SUBJECTS * (len(AGENCIES) - 1)

    async def others_done() -> bool:
        return (
            await done_count(gateway, batch_id) - await done_count(gateway, batch_id, DOWN)
            >= others
        )

    await until(others_done, timeout=OUTAGE_SECONDS - 5)
    assert loop.time() - outage_began < OUTAGE_SECONDS
    assert breaker.state is not BreakerState.CLOSED
    health = await agency_health(gateway)
    assert health[DOWN]["breaker"]["state"] in ("open", "half_open")
    assert health[DOWN]["queue"]["queued"] > 0
    assert health[DOWN]["recent"]["error_rate"] > 0.5
    assert all(health[a]["breaker"]["state"] == "closed" for a in AGENCIES if a != DOWN)
    # Its inquiries wait in the queue: none has failed.
    assert await done_count(gateway, batch_id, DOWN) == 0

    await asyncio.sleep(max(0.0, outage_began + OUTAGE_SECONDS - loop.time()))
    requests_during_outage = mocks.stats(DOWN)["requests"]
    mocks.set_faults(DOWN, {})
    await gateway.wait_finished(batch_id, timeout=10)  # within 10 s of the agency's return

    results = await gateway.all_results(batch_id)
    assert len(results) == SUBJECTS * len(AGENCIES)
    assert_equal_to_truth(results, mocks)
    down = [r for r in results if r["agency"] == DOWN]
    assert sum(r["attempts"] for r in down) / len(down) <= 1.2
    # Organisations are answered without a request (forests are held by people here).
    asked = [r for r in down if kind_of(r["subject"]["id_number"]) == "person"]
    assert mocks.stats(DOWN)["requests"] / len(asked) <= 1.2
    assert requests_during_outage < 0.2 * len(asked)  # no retry storm while it was down
    assert breaker.opened >= 2  # opened, and re-opened after failed probes
    metrics = await (await gateway.client.get("/metrics")).text()
    assert f'gateway_breaker_opened_total{{agency="{DOWN}"}}' in metrics
    assert f'gateway_inquiries_deferred_total{{agency="{DOWN}",reason="breaker_open"}}' in metrics
