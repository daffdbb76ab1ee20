"""An agency down: its breaker opens, its inquiries wait without burning attempts (at most 1.2
attempts per inquiry), the other agencies finish meanwhile, a probe while it is still down
opens the breaker again, and once it is back what was put off for it is asked at once, not at
the probe times chosen while it was down. Health shows it all at GET /v1/agencies.

Nothing here is timed: the breakers run on a clock the test moves, the outage lasts until the
test ends it, and "at once" is read from the schedule kept in PostgreSQL (inquiries put off for
an hour by the breaker finish as soon as it closes)."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.registry import AGENCIES
from gateway.http.keys import DISPATCHER
from gateway.worker import runtime
from gateway.worker.breaker import BreakerConfig, BreakerState, CircuitBreaker
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

SUBJECTS = 200
DOWN = "forestry"
FAST = {"max_rps": 0, "max_in_flight": 8}
#: the breaker's probe delay, on the test's clock: an hour, so that inquiries put off until the
#: next probe would visibly wait if the gateway did not make them due when the agency is back
PROBE_DELAY = 3600.0


class Clock:
    """A monotonic clock the test moves (the breakers'; everything else runs on real time)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def agency_health(gateway: Gateway, role: str = "commander") -> dict[str, Any]:
    headers = await gateway.headers(role=role, team=None if role == "commander" else "team-a")
    response = await gateway.client.get("/v1/agencies", headers=headers)
    assert response.status == 200
    return {item["name"]: item for item in (await response.json())["agencies"]}


async def put_off(gateway: Gateway, batch_id: str, seconds: float) -> int:
    """Inquiries of the agency waiting in the queue, due more than ``seconds`` from now."""
    async with gateway.pool.acquire() as conn:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM inquiries WHERE batch_id = $1 AND agency = $2 "
                "AND state = 'queued' AND not_before > now() + make_interval(secs => $3)",
                batch_id,
                DOWN,
                seconds,
            )
        )


async def test_an_agency_down_opens_its_breaker_and_nothing_else_waits(
    start_gateway: StartGateway, mocks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()

    def breaker_on_the_test_clock(config: BreakerConfig, **kwargs: Any) -> CircuitBreaker:
        return CircuitBreaker(config, clock=clock, **kwargs)

    monkeypatch.setattr(runtime, "CircuitBreaker", breaker_on_the_test_clock)
    gateway = await start_gateway(
        agencies=agencies(mocks.urls, **dict.fromkeys(AGENCIES, FAST)),
        breaker_probe_delay=PROBE_DELAY,
    )
    dispatcher = gateway.client.app[DISPATCHER]
    breaker = dispatcher.agencies[DOWN].breaker
    mocks.set_faults(DOWN, {"outage": True})
    subjects = sample_ids(SUBJECTS, seed=55)
    created = await gateway.submit(body(subjects))
    batch_id = created["id"]

    # The other five agencies finish while it is down (it stays down until the test says).
    others = SUBJECTS * (len(AGENCIES) - 1)

    async def others_done() -> bool:
        return (
            await done_count(gateway, batch_id) - await done_count(gateway, batch_id, DOWN)
            >= others
        )

    await until(others_done, timeout=60)
    assert breaker.state is BreakerState.OPEN
    health = await agency_health(gateway)
    assert health[DOWN]["breaker"]["state"] == "open"
    assert health[DOWN]["queue"]["queued"] > 0
    assert health[DOWN]["recent"]["error_rate"] > 0.5
    assert all(health[a]["breaker"]["state"] == "closed" for a in AGENCIES if a != DOWN)
    # Its inquiries wait in the queue: none has failed.
    assert await done_count(gateway, batch_id, DOWN) == 0

    # Probe time comes while it is still down: the probe fails and the breaker opens again.
    opened = breaker.opened
    clock.now += PROBE_DELAY
    dispatcher.wake(DOWN)

    async def probed_and_reopened() -> bool:
        return breaker.opened > opened

    await until(probed_and_reopened)
    assert breaker.state is BreakerState.OPEN
    # What was claimed when it failed is put off until the next probe, an hour away.
    assert await put_off(gateway, batch_id, PROBE_DELAY / 2) > 0

    requests_during_outage = mocks.stats(DOWN)["requests"]
    mocks.set_faults(DOWN, {})
    clock.now += PROBE_DELAY
    dispatcher.wake(DOWN)
    # Back: probes succeed, the breaker closes, and what was put off is due at once: the batch
    # finishes (an hour's wait could not fit in this deadline).
    await gateway.wait_finished(batch_id, timeout=60)
    assert breaker.state is BreakerState.CLOSED
    assert await put_off(gateway, batch_id, 0) == 0

    results = await gateway.all_results(batch_id)
    assert len(results) == SUBJECTS * len(AGENCIES)
    assert_equal_to_truth(results, mocks)
    down = [r for r in results if r["agency"] == DOWN]
    assert sum(r["attempts"] for r in down) / len(down) <= 1.2
    # Organisations are answered without a request (forests are held by people here).
    asked = [r for r in down if kind_of(r["subject"]["id_number"]) == "person"]
    assert mocks.stats(DOWN)["requests"] / len(asked) <= 1.2
    assert requests_during_outage < 0.2 * len(asked)  # no retry storm while it was down
    assert breaker.opened >= 2  # opened, and re-opened after the failed probe
    metrics = await (await gateway.client.get("/metrics")).text()
    assert f'gateway_breaker_opened_total{{agency="{DOWN}"}}' in metrics
    assert f'gateway_inquiries_deferred_total{{agency="{DOWN}",reason="breaker_open"}}' in metrics
