"""终本: a closed case's debtors are re-queried at every six-month mark for five years, once
however many replicas run the schedule; assets new to the case raise an alert and enter its
history; reopening stops the schedule."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
from typing import Any

from tests.conftest import CASE, Gateway
from tests.integration.accountability.helpers import SHANGHAI, GatewayFactory, auth
from tests.integration.controls.helpers import (
    calendar,
    debtor_with_assets,
    file_case,
    first_of_june,
    found_batch,
)


async def scheduled(gateway: Gateway) -> list[Any]:
    async with gateway.pool.acquire() as conn:
        return await conn.fetch(
            "SELECT b.id, q.round AS closure_round, b.reason, o.name AS officer"
            " FROM case_requeries q JOIN batches b ON b.id = q.batch_id"
            " JOIN officers o ON o.id = b.officer_id ORDER BY q.round"
        )


async def history(gateway: Gateway) -> dict[str, Any]:
    response = await gateway.client.get(
        f"/v1/cases/{CASE}/history", headers=await auth(gateway, "officer", "team-a")
    )
    assert response.status == 200, await response.text()
    return await response.json()


def on(clock: Any, year: int, month: int, day: int) -> None:
    clock.at = datetime.combine(datetime(year, month, day).date(), time(10, 0), SHANGHAI)


async def closed_case(gateway_factory: GatewayFactory, mocks: Any) -> tuple[Gateway, Any]:
    clock = first_of_june()
    gateway = await gateway_factory(clock=clock)
    await file_case(gateway)
    # asked of the household registry only: no asset is known on the case yet
    await found_batch(gateway, debtor_with_assets(mocks), ("household",))
    response = await gateway.client.post(
        f"/v1/cases/{CASE}/closure", json={"closed_on": "2026-06-01"},
        headers=await auth(gateway, "officer", "team-a"),
    )  # fmt: skip
    assert response.status == 200, await response.text()
    closure = (await response.json())["closure"]
    assert (closure["next_due_on"], closure["rounds"]) == ("2026-12-01", 10)
    return gateway, clock


async def test_requeries_at_each_mark_once_across_replicas(
    gateway_factory: GatewayFactory, mocks: Any
) -> None:
    gateway, clock = await closed_case(gateway_factory, mocks)
    replicas = [calendar(gateway) for _ in range(3)]
    on(clock, 2026, 11, 30)
    await asyncio.gather(*(r.round() for r in replicas))
    assert await scheduled(gateway) == []
    on(clock, 2026, 12, 1)
    await asyncio.gather(*(r.round() for r in replicas))
    [first] = await scheduled(gateway)
    assert first["closure_round"] == 1
    assert first["officer"] == "system:终本复查:team-a"
    assert "终本" in first["reason"]
    await gateway.wait_finished(str(first["id"]))
    await asyncio.gather(*(r.round() for r in replicas))  # compares the answers, once

    found = await history(gateway)
    new = [e for e in found["events"] if e["kind"] == "case.new_assets"]
    assert len(new) == 1 and new[0]["batch_id"] == str(first["id"])
    assert set(new[0]["detail"]["agencies"]) == {"realestate", "vehicle", "forestry", "subsidy"}
    alerts = await gateway.client.get(
        "/v1/alerts", params={"kind": "new_assets"}, headers=await auth(gateway, "commander")
    )
    assert [a["batch_id"] for a in (await alerts.json())["items"]] == [str(first["id"])]

    on(clock, 2027, 6, 1)
    await asyncio.gather(*(r.round() for r in replicas))
    rounds = await scheduled(gateway)
    assert [r["closure_round"] for r in rounds] == [1, 2]
    await gateway.wait_finished(str(rounds[1]["id"]))
    await replicas[0].round()
    events = [e["kind"] for e in (await history(gateway))["events"]]
    assert events.count("case.new_assets") == 1  # the same assets again are no news

    on(clock, 2031, 6, 1)  # five years on: the rest of the rounds, and no more
    while (await replicas[0].requery()) > 0:
        pass
    assert [r["closure_round"] for r in await scheduled(gateway)] == list(range(1, 11))
    on(clock, 2032, 6, 1)
    assert await replicas[1].requery() == 0
    assert (await history(gateway))["closure"]["next_due_on"] is None


async def test_reopening_stops_the_schedule(gateway_factory: GatewayFactory, mocks: Any) -> None:
    gateway, clock = await closed_case(gateway_factory, mocks)
    response = await gateway.client.post(
        f"/v1/cases/{CASE}/reopen", headers=await auth(gateway, "officer", "team-a")
    )
    assert response.status == 200, await response.text()
    clock.at += timedelta(days=400)
    assert (await calendar(gateway).round())["requeried"] == 0
    assert await scheduled(gateway) == []
    kinds = [e["kind"] for e in (await history(gateway))["events"]]
    assert kinds == ["case.closed", "case.reopened"]


async def test_closing_refuses_a_future_date_and_another_teams_case(
    gateway_factory: GatewayFactory, mocks: Any
) -> None:
    gateway = await gateway_factory(clock=first_of_june())
    await file_case(gateway)
    await found_batch(gateway, debtor_with_assets(mocks), ("household",))
    future = await gateway.client.post(
        f"/v1/cases/{CASE}/closure", json={"closed_on": "2026-06-02"},
        headers=await auth(gateway, "officer", "team-a"),
    )  # fmt: skip
    assert future.status == 422
    other = await gateway.client.post(
        f"/v1/cases/{CASE}/closure", headers=await auth(gateway, "officer", "team-b")
    )
    assert other.status == 404
    async with gateway.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM case_closures") == 0


async def test_a_case_closed_twice_at_once_is_closed_once(
    gateway_factory: GatewayFactory, mocks: Any
) -> None:
    gateway = await gateway_factory(clock=first_of_june())
    await file_case(gateway)
    await found_batch(gateway, debtor_with_assets(mocks), ("household",))
    headers = await auth(gateway, "officer", "team-a")
    answers = await asyncio.gather(
        *(gateway.client.post(f"/v1/cases/{CASE}/closure", headers=headers) for _ in range(2))
    )
    assert sorted(a.status for a in answers) == [200, 409]
    async with gateway.pool.acquire() as conn:
        closed = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'case.closed'")
    assert closed == 1
