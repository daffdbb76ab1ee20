"""An inquiry that waits on an unavailable agency past the deadline fails "agency
unavailable", and can be re-run once the agency is back; agency health at GET /v1/agencies."""

from __future__ import annotations

from typing import Any

import jsonschema

from mocks.population import sample_ids
from tests.conftest import Gateway
from tests.integration.worker.conftest import (
    StartGateway,
    agencies,
    assert_equal_to_truth,
    body,
)

SUBJECTS = 12


def check(document: dict[str, Any], method: str, path: str, status: int, body: Any) -> None:
    schema = document["paths"][path][method]["responses"][str(status)]["content"]
    jsonschema.validate(
        body, {**schema["application/json"]["schema"], "components": document["components"]}
    )


async def openapi(gateway: Gateway) -> dict[str, Any]:
    return await (await gateway.client.get("/openapi.json")).json()


async def test_waiting_past_the_deadline_fails_and_a_rerun_asks_again(
    start_gateway: StartGateway, mocks: Any
) -> None:
    mocks.set_faults("forestry", {"outage": True})
    gateway = await start_gateway(
        agencies=agencies(mocks.urls, forestry={"max_rps": 0}),
        unavailable_after=1.0,
    )
    people = sample_ids(SUBJECTS, seed=31)
    created = await gateway.submit(body(people, agencies=["household", "forestry"]))
    batch_id = created["id"]
    await gateway.wait_finished(batch_id, timeout=30)

    results = await gateway.all_results(batch_id)
    forestry = [r for r in results if r["agency"] == "forestry"]
    assert len(forestry) == SUBJECTS
    assert {(r["status"], r["error"]) for r in forestry} == {
        ("failed", "forestry: agency unavailable")
    }
    assert all(r["attempts"] <= 1 for r in forestry)  # they waited; they did not burn attempts
    assert_equal_to_truth([r for r in results if r["agency"] == "household"], mocks)

    # Back again: the officer re-runs what failed because the agency was unavailable.
    mocks.set_faults("forestry", {})
    headers = await gateway.headers()
    response = await gateway.client.post(
        f"/v1/batches/{batch_id}/rerun-unavailable", headers=headers
    )
    assert response.status == 200
    rerun = await response.json()
    check(await openapi(gateway), "post", "/v1/batches/{batch_id}/rerun-unavailable", 200, rerun)
    assert rerun["requeued"] == {"forestry": SUBJECTS}
    assert rerun["batch"]["status"] == "running"
    await gateway.wait_finished(batch_id, timeout=30)
    results = await gateway.all_results(batch_id)
    assert len(results) == SUBJECTS * 2
    assert_equal_to_truth(results, mocks)
    async with gateway.pool.acquire() as conn:
        reruns = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'inquiry.rerun' AND batch_id = $1",
            batch_id,
        )
        failed_before = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'inquiry.result' "
            "AND outcome = 'failed' AND batch_id = $1",
            batch_id,
        )
    assert reruns == SUBJECTS  # the re-run is on record, under the officer who asked
    assert failed_before == SUBJECTS  # and so is the failure it replaced

    again = await gateway.client.post(f"/v1/batches/{batch_id}/rerun-unavailable", headers=headers)
    assert (await again.json())["requeued"] == {}  # nothing left to re-run


async def test_a_rerun_is_for_the_batch_team_only(start_gateway: StartGateway, mocks: Any) -> None:
    gateway = await start_gateway()
    created = await gateway.submit(body(sample_ids(2, seed=5), agencies=["vehicle"]))
    other = await gateway.headers(team="team-b")
    response = await gateway.client.post(
        f"/v1/batches/{created['id']}/rerun-unavailable", headers=other
    )
    assert response.status == 404
    commander = await gateway.headers(role="commander", team=None)
    response = await gateway.client.post(
        f"/v1/batches/{created['id']}/rerun-unavailable", headers=commander
    )
    assert response.status == 403


async def test_agency_health_for_officers_and_commanders_only(
    start_gateway: StartGateway, mocks: Any
) -> None:
    gateway = await start_gateway()
    created = await gateway.submit(body(sample_ids(3, seed=6), agencies=["vehicle", "household"]))
    await gateway.wait_finished(created["id"], timeout=30)
    document = await openapi(gateway)
    for role, team in (("officer", "team-a"), ("commander", None)):
        response = await gateway.client.get(
            "/v1/agencies", headers=await gateway.headers(role=role, team=team)
        )
        assert response.status == 200, role
        health = await response.json()
        check(document, "get", "/v1/agencies", 200, health)
        by_name = {item["name"]: item for item in health["agencies"]}
        assert by_name["household"]["breaker"]["state"] == "closed"
        assert by_name["household"]["recent"]["calls"] == 3
        assert by_name["household"]["recent"]["error_rate"] == 0
        assert by_name["household"]["recent"]["median_latency_ms"] is not None
        assert by_name["forestry"]["recent"]["calls"] == 0
    for role, team in (("auditor", None), ("admin", None)):
        response = await gateway.client.get(
            "/v1/agencies", headers=await gateway.headers(role=role, team=team)
        )
        assert response.status == 403, role
    assert (await gateway.client.get("/v1/agencies")).status == 401
    metrics = await (await gateway.client.get("/metrics")).text()
    for name in ("gateway_breaker_state", "gateway_agency_in_flight_global"):
        assert f'{name}{{agency="household"}}' in metrics, name
