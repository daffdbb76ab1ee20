"""Each kind of control against the stand-in agencies, with an injected clock: asked, approved
by another person, in effect with the agency's own receipt, renewed before its last day,
released; a second court's hold waits in line; a lapsed hold expires and is not renewed."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from connectors.base import Requester
from gateway.http.keys import CONTROL_SENDER
from tests.conftest import CASE, Gateway
from tests.integration.accountability.helpers import GatewayFactory
from tests.integration.controls.helpers import (
    act,
    ask,
    assets_of,
    calendar,
    control,
    debtor_with_assets,
    file_case,
    first_of_june,
    found_asset,
    found_batch,
)

#: the longest terms of the SPC's 2020 rules (funds 1 year, movables 2, property 3) from
#: 1 June 2026, in days (2028 has a 29 February), and the last days of a hold and of its
#: renewal for as long again
TERMS = {"realestate": 1096, "forestry": 1096, "vehicle": 731, "subsidy": 365}
LAST_DAYS = {
    "realestate": ("2029-05-31", "2032-05-31"),
    "forestry": ("2029-05-31", "2032-05-31"),
    "vehicle": ("2028-05-31", "2030-05-31"),
    "subsidy": ("2027-05-31", "2028-05-31"),
}
KINDS = [("realestate", "seal"), ("forestry", "seal"), ("vehicle", "seize"), ("subsidy", "freeze")]


async def answered(gateway: Gateway, control_id: int, count: int) -> dict[str, Any]:
    sender = gateway.client.app[CONTROL_SENDER]
    await asyncio.wait_for(sender.wait_answered(control_id, count), 30)
    return await control(gateway, control_id)


def holds(mocks: Any, agency: str) -> list[dict[str, Any]]:
    return mocks.holds(agency)


@pytest.mark.parametrize(("agency", "action"), KINDS)
async def test_a_hold_from_request_to_release(
    gateway_factory: GatewayFactory, mocks: Any, agency: str, action: str
) -> None:
    clock = first_of_june()
    gateway = await gateway_factory(clock=clock)
    await file_case(gateway, amount="100000.00")
    debtor = debtor_with_assets(mocks)
    batch_id = await found_batch(gateway, debtor)
    asset = assets_of(mocks, agency, debtor[1])[0]
    extra = {"amount": "5000.00"} if action == "freeze" else {}
    response = await ask(gateway, batch_id, agency, asset, action, **extra)
    assert response.status == 201, await response.text()
    asked = await response.json()
    assert (asked["status"], asked["asset"], asked["term_days"]) == (
        "pending_approval",
        asset,
        TERMS[agency],
    )
    assert holds(mocks, agency) == []  # nothing is sent before a commander approves

    approved = await act(gateway, asked["id"], "approve", note="同意")
    assert approved.status == 200, await approved.text()
    in_effect = await answered(gateway, asked["id"], 1)
    [hold] = holds(mocks, agency)
    last_day, renewed_to = LAST_DAYS[agency]
    assert in_effect["status"] == "in_effect"
    assert in_effect["receipt_no"] == hold["receipt_no"]
    assert (in_effect["effective_on"], in_effect["expires_on"]) == ("2026-06-01", last_day)
    assert hold["asset"] == asset and hold["action"] == action

    clock.at += timedelta(days=TERMS[agency] - 11)  # ten days before the last day
    renewal = await act(gateway, asked["id"], "renew", role="officer", team="team-a")
    assert renewal.status == 200, await renewal.text()
    renewed = await answered(gateway, asked["id"], 2)
    assert renewed["renewals"] == 1
    assert renewed["expires_on"] == renewed_to

    release = await act(gateway, asked["id"], "release", role="officer", team="team-a")
    assert release.status == 200, await release.text()
    released = await answered(gateway, asked["id"], 3)
    assert released["status"] == "released"
    assert [h["state"] for h in holds(mocks, agency)] == ["released"]
    history = await gateway.client.get(
        f"/v1/cases/{CASE}/history", headers={"Authorization": f"Bearer {await gateway.token()}"}
    )
    kinds = [e["kind"] for e in (await history.json())["events"]]
    assert kinds == [
        "control.requested", "control.approved", "control.in_effect",
        "control.renewal_asked", "control.renewed", "control.release_asked",
        "control.released",
    ]  # fmt: skip


async def test_a_second_court_waits_in_line(gateway_factory: GatewayFactory, mocks: Any) -> None:
    clock = first_of_june()
    gateway = await gateway_factory(clock=clock)
    await file_case(gateway)
    debtor, batch_id, asset = await found_asset(gateway, mocks, "realestate")
    first = {
        "idempotency_key": "7d1b7d8e-5a55-4d3c-9d4c-0c9d2f1b1a01",
        "court": "长春市中级人民法院",
        "case_number": "（2025）吉01执9号",
        "action": "seal",
        "subject": {"name": debtor[0], "id_number": debtor[1], "kind": "person"},
        "asset": asset,
        "term_days": 1095,
        "amount": None,
        "order_date": "2026-05-01",
    }
    async with aiohttp.ClientSession() as session:
        court = Requester("长春中院法官", "执行一庭", first["case_number"], "b-other-court")
        url = mocks.urls["realestate"] + "/v1/controls"
        other = await session.post(url, json=first, headers=court.headers())
        assert other.status == 200, await other.text()
    asked = await (await ask(gateway, batch_id, "realestate", asset, "seal")).json()
    await act(gateway, asked["id"], "approve")
    queued = await answered(gateway, asked["id"], 1)
    assert (queued["status"], queued["position"]) == ("queued_behind", 1)
    mine = [h for h in holds(mocks, "realestate") if h["court"] != "长春市中级人民法院"]
    assert queued["receipt_no"] == mine[0]["receipt_no"]

    schedule = calendar(gateway)
    assert await schedule.check_lines() == 1
    sender = gateway.client.app[CONTROL_SENDER]
    before = sender.sent
    sender.wake()
    await asyncio.wait_for(sender.wait_sent(before + 1), 30)
    assert (await control(gateway, asked["id"]))["status"] == "queued_behind"  # still waiting
    assert await schedule.check_lines() == 0  # asked today already
    theirs = holds(mocks, "realestate")[0]["receipt_no"]
    release = {
        "idempotency_key": "7d1b7d8e-5a55-4d3c-9d4c-0c9d2f1b1a02",
        "order_date": "2026-06-15",
    }
    async with aiohttp.ClientSession() as session:
        url = f"{mocks.urls['realestate']}/v1/controls/{theirs}/release"
        released = await session.post(url, json=release, headers=court.headers())
        assert released.status == 200, await released.text()
    clock.at += timedelta(days=1)
    assert await schedule.check_lines() == 1
    sender.wake()
    in_effect = await answered(gateway, asked["id"], 2)
    assert (in_effect["status"], in_effect["position"]) == ("in_effect", None)
    assert in_effect["effective_on"] == "2026-06-15"  # the day the court before released


async def test_a_lapsed_hold_expires_and_is_not_renewed(
    gateway_factory: GatewayFactory, mocks: Any
) -> None:
    clock = first_of_june()
    gateway = await gateway_factory(clock=clock)
    await file_case(gateway)
    _debtor, batch_id, asset = await found_asset(gateway, mocks, "vehicle")
    asked = await (await ask(gateway, batch_id, "vehicle", asset, "seal", term_days=30)).json()
    await act(gateway, asked["id"], "approve")
    held = await answered(gateway, asked["id"], 1)
    assert held["expires_on"] == "2026-06-30"
    clock.at += timedelta(days=29)  # the last day: still in effect
    assert (await calendar(gateway).expire()) == 0
    clock.at += timedelta(days=1)  # the day after
    assert (await calendar(gateway).expire()) == 1
    assert (await control(gateway, asked["id"]))["status"] == "expired"
    late = await act(gateway, asked["id"], "renew", role="officer", team="team-a")
    assert late.status == 409
    assert "in effect" in (await late.json())["error"]["message"]
