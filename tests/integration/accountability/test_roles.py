"""Roles and team scoping: officers see their own team's batches only (another team's is a
404, exactly like a missing one), commanders see every batch but never personal data,
tokens expire and are revoked, and every agency call carries the officer onward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.registry import AGENCIES
from gateway.accountability.auth import create_token
from tests.integration.accountability.helpers import (
    OTHER_CASE,
    GatewayFactory,
    auth,
    batch_body,
    file_case,
    post_batch,
    start,
)

MISSING = "00000000-0000-0000-0000-000000000000"


async def test_another_teams_batch_is_exactly_like_a_missing_one(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await start(gateway_factory, dispatch=False)
    await file_case(gateway)
    theirs = await (await post_batch(gateway, batch_body(n=1))).json()
    other = await auth(gateway, "officer", "team-b")
    for method, suffix in [("GET", ""), ("GET", "/results"), ("POST", "/cancel")]:
        seen = await gateway.client.request(
            method, f"/v1/batches/{theirs['id']}{suffix}", headers=other
        )
        missing = await gateway.client.request(
            method, f"/v1/batches/{MISSING}{suffix}", headers=other
        )
        assert seen.status == missing.status == 404
        assert await seen.json() == await missing.json()
    listed = await (await gateway.client.get("/v1/batches", headers=other)).json()
    assert listed["items"] == []
    own = await gateway.client.get(
        f"/v1/batches/{theirs['id']}", headers=await auth(gateway, "officer", "team-a")
    )
    assert own.status == 200 and (await own.json())["status"] == "queued"


async def test_commanders_see_every_batch_and_no_personal_data(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await start(gateway_factory, dispatch=False)
    await file_case(gateway)
    await file_case(gateway, OTHER_CASE, "team-b")
    body_a, body_b = batch_body(n=2, seed=1), batch_body(n=2, seed=2, case=OTHER_CASE)
    a = await (await post_batch(gateway, body_a)).json()
    b = await (await post_batch(gateway, body_b, team="team-b")).json()
    commander = await auth(gateway, "commander")
    listed = await (await gateway.client.get("/v1/batches", headers=commander)).json()
    assert {item["id"] for item in listed["items"]} == {a["id"], b["id"]}
    detail = await gateway.client.get(f"/v1/batches/{b['id']}", headers=commander)
    text = await detail.text()
    assert detail.status == 200 and (await detail.json())["progress"]["household"]["total"] == 2
    results = await gateway.client.get(f"/v1/batches/{a['id']}/results", headers=commander)
    assert results.status == 403
    error = (await results.json())["error"]
    assert error["code"] == "forbidden" and error["allowed"] == ["officer"]
    for body in (body_a, body_b):
        for subject in body["subjects"]:
            assert subject["name"] not in text + str(listed)
            assert subject["id_number"] not in text + str(listed)


async def test_auditors_and_admins_see_no_batches(gateway_factory: GatewayFactory) -> None:
    gateway = await start(gateway_factory, dispatch=False)
    for role in ("auditor", "admin"):
        response = await gateway.client.get("/v1/batches", headers=await auth(gateway, role))
        assert response.status == 403


async def test_an_expired_token_is_refused(gateway_factory: GatewayFactory) -> None:
    gateway = await start(gateway_factory, dispatch=False)
    async with gateway.pool.acquire() as conn:
        expired = await create_token(
            conn,
            officer="过期",
            role="officer",
            team="team-a",
            expires_at=datetime.now(UTC) - timedelta(seconds=1),
        )
        valid = await create_token(
            conn,
            officer="有效",
            role="officer",
            team="team-a",
            expires_at=datetime.now(UTC) + timedelta(days=1),
        )
    for token, status in ((expired, 401), (valid, 200)):
        response = await gateway.client.get(
            "/v1/batches", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status == status


async def test_every_agency_call_carries_the_officer_onward(
    gateway_factory: GatewayFactory, mocks: Any
) -> None:
    gateway = await start(gateway_factory)
    await file_case(gateway)
    await file_case(gateway, OTHER_CASE, "team-b")
    mine = await (await post_batch(gateway, batch_body(n=3, seed=30))).json()
    body = batch_body(n=2, seed=31, case=OTHER_CASE, agencies=["household", "vehicle"])
    theirs = await (await post_batch(gateway, body, team="team-b")).json()
    await gateway.wait_finished(mine["id"])
    await gateway.wait_finished(theirs["id"])
    for agency in AGENCIES:
        expected = {"officer-team-a"}
        if agency in ("household", "vehicle"):
            expected.add("officer-team-b")
        stats = mocks.stats(agency)
        # The mocks refuse (and count) any request that lacks the officer or the case.
        assert stats["missing_requester"] == 0, agency
        # Requests per subject vary by agency (photos, polls, lists), so: exactly these two.
        assert set(stats["by_officer"]) == expected, agency
