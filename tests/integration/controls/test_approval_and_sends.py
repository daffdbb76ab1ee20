"""Who may ask and decide; exactly one hold when a replica dies mid-send; the over-freeze
rule; expiry reminders exactly at the window's edge."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from connectors.base import Requester
from connectors.controls import ControlAnswer, ControlClient, HoldOrder
from gateway.http.keys import CONTROL_SENDER
from tests.integration.accountability.helpers import GatewayFactory, auth
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
    senders,
)


async def test_only_another_commander_decides(gateway_factory: GatewayFactory, mocks: Any) -> None:
    gateway = await gateway_factory(clock=first_of_june())
    await file_case(gateway)
    _debtor, batch_id, asset = await found_asset(gateway, mocks, "realestate")
    # A commander of the team asks: they may not approve it themselves.
    asked = await ask(gateway, batch_id, "realestate", asset, "seal", role="commander")
    assert asked.status == 201, await asked.text()
    control_id = (await asked.json())["id"]
    self_approval = await act(gateway, control_id, "approve", role="commander", team="team-a")
    assert self_approval.status == 403
    officer = await act(gateway, control_id, "approve", role="officer", team="team-a")
    assert officer.status == 403
    other_team = await gateway.client.get(
        f"/v1/controls/{control_id}", headers=await auth(gateway, "officer", "team-b")
    )
    assert other_team.status == 404
    headers = await auth(gateway, "officer", "team-a")
    for path_id in ("%C2%B2", "abc", "1" * 19):  # "²" counts as a digit to Python
        missing = await gateway.client.get(f"/v1/controls/{path_id}", headers=headers)
        assert missing.status == 404, (path_id, await missing.text())
    foreign = await ask(gateway, batch_id, "realestate", asset, "seal", team="team-b")
    assert foreign.status == 404
    twice = await ask(gateway, batch_id, "realestate", asset, "seal")
    assert twice.status == 409
    assert (await control(gateway, control_id))["status"] == "pending_approval"
    rejected = await act(gateway, control_id, "reject", note="理由不足")
    assert (await rejected.json())["status"] == "rejected"
    assert mocks.holds("realestate") == []


async def test_bad_requests_are_refused_and_store_nothing(
    gateway_factory: GatewayFactory, mocks: Any
) -> None:
    gateway = await gateway_factory(clock=first_of_june())
    await file_case(gateway)
    debtor = debtor_with_assets(mocks, ("vehicle", "subsidy"))
    batch_id = await found_batch(gateway, debtor, ("vehicle", "subsidy"))
    plate = assets_of(mocks, "vehicle", debtor[1])[0]
    account = assets_of(mocks, "subsidy", debtor[1])[0]
    cases = [
        (("vehicle", plate, "freeze"), {}, "action"),
        (("vehicle", "吉Z99999", "seal"), {}, "asset"),
        (("vehicle", plate, "seal"), {"term_days": 732}, "term_days"),
        (("vehicle", plate, "seal"), {"term_days": True}, "term_days"),  # JSON's true is not 1
        (("vehicle", plate, "seal"), {"row": True}, "row"),
        (("subsidy", account, "freeze"), {}, "amount"),
        (("vehicle", plate, "seal"), {"amount": "10.00"}, "amount"),
    ]
    for (agency, asset, action), extra, field in cases:
        response = await ask(gateway, batch_id, agency, asset, action, **extra)
        assert response.status == 422, (field, await response.text())
        problems = (await response.json())["error"]["problems"]
        assert [p["field"] for p in problems] == [field]
    async with gateway.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM controls") == 0


class DiesAfterSending(ControlClient):
    """Sends the order, then the replica dies before it records the answer."""

    async def hold(self, order: HoldOrder, requester: Requester) -> ControlAnswer:
        await super().hold(order, requester)
        raise asyncio.CancelledError  # the process is gone; nothing after this runs


async def test_one_hold_when_a_replica_dies_mid_send(
    gateway_factory: GatewayFactory, mocks: Any
) -> None:
    clock = first_of_june()
    first = await gateway_factory(clock=clock)
    await file_case(first)
    debtor = debtor_with_assets(mocks, ("realestate",))
    batch_id = await found_batch(first, debtor, ("realestate",))
    await first.client.close()
    gateway = await gateway_factory(clock=clock, dispatch=False)  # no sender of its own
    asset = assets_of(mocks, "realestate", debtor[1])[0]
    asked = await (await ask(gateway, batch_id, "realestate", asset, "seal")).json()
    await act(gateway, asked["id"], "approve")
    async with senders(gateway, mocks, 2) as (dying, survivor):
        dying._clients = {
            "realestate": DiesAfterSending(
                survivor._clients["realestate"].session,
                "realestate",
                mocks.urls["realestate"],
            )
        }
        try:
            await dying.send_due()
        except asyncio.CancelledError:
            pass
        assert (await control(gateway, asked["id"]))["status"] == "sending"
        assert await survivor.send_due() == 0  # the dead replica's lease still holds
        clock.at += timedelta(seconds=gateway.settings.lease_seconds + 1)
        assert await survivor.send_due() == 1
    held = await control(gateway, asked["id"])
    [hold] = mocks.holds("realestate")
    assert (held["status"], held["receipt_no"]) == ("in_effect", hold["receipt_no"])
    stats = mocks.stats("realestate")
    assert (stats["control_requests"], stats["holds_created"]) == (2, 1)
    async with gateway.pool.acquire() as conn:
        sends = await conn.fetch("SELECT state, attempts FROM control_sends")
        answers = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'control.in_effect'"
        )
    assert [(s["state"], s["attempts"]) for s in sends] == [("done", 2)]
    assert answers == 1


async def test_over_freeze_needs_a_commanders_override(
    gateway_factory: GatewayFactory, mocks: Any
) -> None:
    gateway = await gateway_factory(clock=first_of_june())
    await file_case(gateway, amount="1000.00")
    _debtor, batch_id, account = await found_asset(gateway, mocks, "subsidy")
    within = await (
        await ask(gateway, batch_id, "subsidy", account, "freeze", amount="1000.00")
    ).json()
    assert within["over_limit"] is False
    await act(gateway, within["id"], "reject")
    over = await (
        await ask(gateway, batch_id, "subsidy", account, "freeze", amount="1000.01")
    ).json()
    assert over["over_limit"] is True
    refused = await act(gateway, over["id"], "approve")
    assert refused.status == 422
    assert (await refused.json())["error"]["problems"][0]["field"] == "override_reason"
    assert (await control(gateway, over["id"]))["status"] == "pending_approval"
    approved = await act(gateway, over["id"], "approve", override_reason="另案合并执行，经合议")
    assert approved.status == 200, await approved.text()
    body = await approved.json()
    assert (body["status"], body["override_reason"]) == ("sending", "另案合并执行，经合议")


async def test_reminders_come_at_the_windows_edge_once(
    gateway_factory: GatewayFactory, mocks: Any
) -> None:
    clock = first_of_june()
    gateway = await gateway_factory(clock=clock)
    await file_case(gateway)
    _debtor, batch_id, asset = await found_asset(gateway, mocks, "forestry")
    asked = await (await ask(gateway, batch_id, "forestry", asset, "seal", term_days=100)).json()
    await act(gateway, asked["id"], "approve")
    await asyncio.wait_for(gateway.client.app[CONTROL_SENDER].wait_answered(asked["id"]), 30)
    last_day = (await control(gateway, asked["id"]))["expires_on"]
    assert last_day == "2026-09-08"  # 1 June + 100 days - 1
    schedule = calendar(gateway)
    clock.at += timedelta(days=68)  # 8 August: 31 days before the last day
    assert await schedule.remind() == 0
    clock.at += timedelta(days=1)  # 30 days before: inside the window
    assert await schedule.remind() == 1
    assert await schedule.remind() == 0  # once per expiry date
    for within, listed in ((30, [asked["id"]]), (29, [])):
        page = await gateway.client.get(
            "/v1/controls", params={"expiring_within": str(within)},
            headers=await auth(gateway, "officer", "team-a"),
        )  # fmt: skip
        assert [c["id"] for c in (await page.json())["items"]] == listed
    alerts = await gateway.client.get(
        "/v1/alerts", params={"kind": "control_expiring"}, headers=await auth(gateway, "commander")
    )
    [alert] = (await alerts.json())["items"]
    assert alert["detail"]["control_id"] == asked["id"]
    assert alert["detail"]["days_left"] == 30
    assert alert["team"] == "team-a"


async def test_no_hold_on_a_case_not_filed_for_the_team(
    gateway_factory: GatewayFactory, mocks: Any
) -> None:
    # The suites' gateway lets batches name cases not registered (GATEWAY_REQUIRE_FILED_CASE
    # off); a hold is a court order on a filed case.
    gateway = await gateway_factory(clock=first_of_june())
    _debtor, batch_id, plate = await found_asset(gateway, mocks, "vehicle")
    response = await ask(gateway, batch_id, "vehicle", plate, "seal")
    assert response.status == 409, await response.text()
    async with gateway.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM controls") == 0
