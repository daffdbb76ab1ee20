"""Controls when things go wrong: an agency failing is asked again (and a renewal asked in
time is not overtaken by the hold's expiry meanwhile); renewals are not stacked early; an
agency's refusal is recorded, its words kept out of the audit log; a transferred case's holds
go with it to its new team."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import aiohttp

from connectors.base import Requester
from gateway.http.keys import CONTROL_SENDER
from mocks.faults import Latency
from tests.conftest import CASE
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
from tests.integration.worker.conftest import agencies


async def test_a_renewal_through_a_failing_agency_is_not_overtaken_by_expiry(
    gateway_factory: GatewayFactory, mocks: Any
) -> None:
    clock = first_of_june()
    first = await gateway_factory(clock=clock)
    await file_case(first)
    debtor = debtor_with_assets(mocks, ("vehicle",))
    batch_id = await found_batch(first, debtor, ("vehicle",))
    await first.client.close()
    gateway = await gateway_factory(clock=clock, dispatch=False)  # the test sends
    plate = assets_of(mocks, "vehicle", debtor[1])[0]
    asked = await (await ask(gateway, batch_id, "vehicle", plate, "seal", term_days=100)).json()
    await act(gateway, asked["id"], "approve")
    async with senders(gateway, mocks) as [sender]:
        assert await sender.send_due() == 1
        held = await control(gateway, asked["id"])
        assert held["expires_on"] == "2026-09-08"
        early = await act(gateway, asked["id"], "renew", role="officer", team="team-a")
        assert early.status == 409  # 99 days before the last day: not within the window

        clock.at += timedelta(days=99)  # the last day
        mocks.set_faults("vehicle", {"500": 1.0})
        renewal = await act(gateway, asked["id"], "renew", role="officer", team="team-a")
        assert renewal.status == 200, await renewal.text()
        assert await sender.send_due() == 1  # refused by the fault: asked again later
        assert (await control(gateway, asked["id"]))["sending"] == "renew"
        clock.at += timedelta(days=1)  # the hold's last day has passed, its renewal is pending
        assert await calendar(gateway).expire() == 0
        mocks.set_faults("vehicle", {})
        assert await sender.send_due() == 1
    renewed = await control(gateway, asked["id"])
    assert (renewed["status"], renewed["renewals"], renewed["sending"]) == ("in_effect", 1, None)
    assert renewed["expires_on"] == "2028-09-08"  # two years more: the longest, by default
    assert mocks.stats("vehicle")["faults"]["500"] >= 1


async def test_a_refusal_is_recorded_and_its_words_stay_out_of_the_audit_log(
    gateway_factory: GatewayFactory, mocks: Any
) -> None:
    clock = first_of_june()
    first = await gateway_factory(clock=clock)
    await file_case(first)
    debtor = debtor_with_assets(mocks, ("realestate",))
    batch_id = await found_batch(first, debtor, ("realestate",))
    await first.client.close()
    gateway = await gateway_factory(clock=clock, dispatch=False)  # the test sends
    certificate = assets_of(mocks, "realestate", debtor[1])[0]
    # The same court holds it already (under another case): the registry refuses a second.
    earlier = {
        "idempotency_key": "0f0e6c1a-2b1d-4f57-8d55-1c2a3b4c5d6e",
        "court": gateway.settings.court_name,
        "case_number": "（2021）吉03执7号",
        "action": "seal",
        "subject": {"name": debtor[0], "id_number": debtor[1], "kind": "person"},
        "asset": certificate,
        "term_days": 365,
        "amount": None,
        "order_date": "2026-05-01",
    }
    requester = Requester("另案法官", "执行二组", earlier["case_number"], "b-earlier")
    async with aiohttp.ClientSession() as session:
        url = mocks.urls["realestate"] + "/v1/controls"
        made = await session.post(url, json=earlier, headers=requester.headers())
        assert made.status == 200, await made.text()
    asked = await (await ask(gateway, batch_id, "realestate", certificate, "seal")).json()
    await act(gateway, asked["id"], "approve")
    async with senders(gateway, mocks) as [sender]:
        await sender.send_due()
    refused = await control(gateway, asked["id"])
    assert refused["status"] == "refused" and refused["refusal"]
    async with gateway.pool.acquire() as conn:
        detail = await conn.fetchval(
            "SELECT detail FROM audit_log WHERE action = 'control.refused'"
        )
    assert detail["refusal"] == "already_held"
    text = json.dumps(detail, ensure_ascii=False)
    assert certificate not in text and debtor[0] not in text


async def test_a_transferred_cases_holds_go_to_its_new_team(
    gateway_factory: GatewayFactory, mocks: Any
) -> None:
    gateway = await gateway_factory(clock=first_of_june())
    await file_case(gateway)
    _debtor, batch_id, asset = await found_asset(gateway, mocks, "forestry")
    asked = await (await ask(gateway, batch_id, "forestry", asset, "seal")).json()
    await file_case(gateway, team="team-b")  # the technology office transfers the case
    path = f"/v1/controls/{asked['id']}"
    old = await gateway.client.get(path, headers=await auth(gateway, "officer", "team-a"))
    new = await gateway.client.get(path, headers=await auth(gateway, "officer", "team-b"))
    assert (old.status, new.status) == (404, 200)
    listed = await gateway.client.get(
        "/v1/controls",
        params={"case_number": CASE},
        headers=await auth(gateway, "officer", "team-b"),
    )
    assert [c["id"] for c in (await listed.json())["items"]] == [asked["id"]]


async def test_expiry_waits_for_a_renewal_being_asked_at_midnight(
    gateway_factory: GatewayFactory, mocks: Any
) -> None:
    clock = first_of_june()
    gateway = await gateway_factory(clock=clock)
    await file_case(gateway)
    _debtor, batch_id, plate = await found_asset(gateway, mocks, "vehicle")
    asked = await (await ask(gateway, batch_id, "vehicle", plate, "seal", term_days=10)).json()
    await act(gateway, asked["id"], "approve")
    await asyncio.wait_for(gateway.client.app[CONTROL_SENDER].wait_answered(asked["id"]), 30)
    clock.at += timedelta(days=10)  # the day after the last: expiry is due
    async with gateway.pool.acquire() as renewing:
        # An officer's renewal, asked on the last day, still committing at midnight.
        transaction = renewing.transaction()
        await transaction.start()
        await renewing.execute("SELECT 1 FROM controls WHERE id = $1 FOR UPDATE", asked["id"])
        await renewing.execute(
            "INSERT INTO control_sends (control_id, operation, idempotency_key, term_days,"
            " order_date, officer_id, not_before, created_at) SELECT id, 'renew',"
            " gen_random_uuid(), 30, DATE '2026-06-10', requested_by, now(), now()"
            " FROM controls WHERE id = $1",
            asked["id"],
        )
        expiring = asyncio.ensure_future(calendar(gateway).expire())
        # Until the expiry waits on the renewal's lock: a count in the database, not a time.
        while not await gateway.pool.fetchval(  # noqa: ASYNC110
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        ):
            await asyncio.sleep(0)
        await transaction.commit()
    assert await expiring == 0
    assert (await control(gateway, asked["id"]))["status"] == "in_effect"


async def test_control_orders_keep_to_the_agencys_limits(
    gateway_factory: GatewayFactory, mocks: Any
) -> None:
    # One request at a time at the registry, taking 50 ms each: three orders approved at once
    # queue at the gateway's gate for the agency instead of all arriving together.
    limits = agencies(mocks.urls, realestate={"max_in_flight": 1, "max_rps": 0})
    gateway = await gateway_factory(clock=first_of_june(), agencies=limits)
    await file_case(gateway)
    people = [debtor_with_assets(mocks, ("realestate",), skip=k) for k in range(3)]
    body = {
        "case_number": CASE, "reason": "查询被执行人财产线索", "agencies": ["realestate"],
        "subjects": [{"name": n, "id_number": i} for n, i in people],
    }  # fmt: skip
    batch = await gateway.submit(body)
    await gateway.wait_finished(batch["id"])
    mocks.set_limits("realestate", max_in_flight=1)
    mocks.set_latency("realestate", Latency(request=(0.05, 0.05)))
    ids = []
    for row, (_, number) in enumerate(people):
        asset = assets_of(mocks, "realestate", number)[0]
        asked = await ask(gateway, batch["id"], "realestate", asset, "seal", row=row)
        ids.append((await asked.json())["id"])
    for control_id in ids:
        await act(gateway, control_id, "approve")
    sender = gateway.client.app[CONTROL_SENDER]
    for control_id in ids:
        await asyncio.wait_for(sender.wait_answered(control_id), 30)
    assert len(mocks.holds("realestate")) == 3
    assert mocks.stats("realestate")["breaches"] == {}
