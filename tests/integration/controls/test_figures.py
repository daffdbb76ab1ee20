"""Holds in the command centre's figures: the statistics count holds in effect by action,
holds that took effect, renewals and releases; the metrics count each step, and the leader
exports the holds in effect."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from gateway.http.keys import CONTROL_SENDER, FIGURES
from tests.conftest import Gateway
from tests.integration.accountability.helpers import GatewayFactory, auth, metric
from tests.integration.controls.helpers import (
    act,
    ask,
    assets_of,
    debtor_with_assets,
    file_case,
    first_of_june,
    found_batch,
)


async def figures(gateway: Gateway) -> dict[str, Any]:
    response = await gateway.client.get("/v1/stats", headers=await auth(gateway, "commander"))
    assert response.status == 200, await response.text()
    return (await response.json())["controls"]


async def test_statistics_and_metrics_follow_a_hold(
    gateway_factory: GatewayFactory, mocks: Any
) -> None:
    clock = first_of_june()
    gateway = await gateway_factory(clock=clock)
    await file_case(gateway)
    debtor = debtor_with_assets(mocks, ("vehicle",))
    batch_id = await found_batch(gateway, debtor, ("vehicle",))
    plates = assets_of(mocks, "vehicle", debtor[1])
    sender = gateway.client.app[CONTROL_SENDER]
    asked = await (await ask(gateway, batch_id, "vehicle", plates[0], "seize")).json()
    await act(gateway, asked["id"], "approve")
    await asyncio.wait_for(sender.wait_answered(asked["id"]), 30)
    assert await gateway.client.app[FIGURES].refresh()
    assert await metric(gateway, "gateway_controls_in_effect", action="seize") == 1
    assert await metric(gateway, "gateway_controls_expiring") == 0  # 2 years to go
    assert await metric(gateway, "gateway_control_order_oldest_seconds") == 0  # answered
    assert (
        await metric(gateway, "gateway_control_steps_total", action="seize", step="in_effect") == 1
    )
    held = await figures(gateway)
    assert held["in_effect"] == {"seal": 0, "seize": 1, "freeze": 0}
    assert (held["took_effect"], held["renewals"], held["releases"]) == (1, 0, 0)
    assert "扣押1项" in held["sentence"]

    clock.at += timedelta(days=700)  # 1 May 2028: the last day, 31 May, 30 days away
    assert await gateway.client.app[FIGURES].refresh()
    assert await metric(gateway, "gateway_controls_expiring") == 1
    await act(gateway, asked["id"], "renew", role="officer", team="team-a")
    await asyncio.wait_for(sender.wait_answered(asked["id"], 2), 30)
    await act(gateway, asked["id"], "release", role="officer", team="team-a")
    await asyncio.wait_for(sender.wait_answered(asked["id"], 3), 30)
    assert await gateway.client.app[FIGURES].refresh()
    assert await metric(gateway, "gateway_controls_in_effect", action="seize") == 0
    assert await metric(gateway, "gateway_control_steps_total", action="seize", step="renewed") == 1
    held = await figures(gateway)
    assert held["in_effect"]["seize"] == 0
    assert (held["took_effect"], held["renewals"], held["releases"]) == (1, 1, 1)
