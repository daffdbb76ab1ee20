"""No final failure before the agency's answer deadline: an inquiry whose agency does not
answer waits (status ``waiting``, its last error and next attempt shown, counted in the
batch's progress and agency health) and is asked again, until the deadline passes on the
gateway's clock; exactly then it fails "no answer within the deadline", and a re-run asks
again. Agency health at GET /v1/agencies."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema

from mocks.population import sample_ids
from tests.conftest import Gateway
from tests.integration.worker.conftest import (
    StartGateway,
    agencies,
    assert_equal_to_truth,
    body,
    until,
)

SUBJECTS = 6
DEADLINE = 3600.0  # an hour on the test's clock; the test moves the clock, nothing sleeps


class Clock:
    """The gateway's "now" for deadlines; the test moves it."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at


def check(document: dict[str, Any], method: str, path: str, status: int, body: Any) -> None:
    schema = document["paths"][path][method]["responses"][str(status)]["content"]
    jsonschema.validate(
        body, {**schema["application/json"]["schema"], "components": document["components"]}
    )


async def openapi(gateway: Gateway) -> dict[str, Any]:
    return await (await gateway.client.get("/openapi.json")).json()


async def test_a_silent_agency_fails_exactly_when_the_deadline_passes_and_a_rerun_asks_again(
    start_gateway: StartGateway, mocks: Any
) -> None:
    mocks.set_faults("forestry", {"outage": True})
    clock = Clock()
    forestry = {"max_rps": 0, "answer_deadline": DEADLINE}
    gateway = await start_gateway(
        clock=clock,
        agencies=agencies(mocks.urls, forestry=forestry),
        breaker_failures=10**6,  # keep asking (the breaker is tested elsewhere)
        breaker_min_calls=10**6,
        backoff_base=0.01,
        requeue_backoff_cap=0.05,
        max_attempts=1,
        request_attempts=2,
        retry_budget_min_per_second=1000,
    )
    submitted = clock.at
    people = sample_ids(SUBJECTS, seed=31)
    created = await gateway.submit(body(people, agencies=["household", "forestry"]))
    batch_id = created["id"]
    headers = await gateway.headers()

    # The agency is asked again and again; nothing fails while the deadline is ahead.
    async def all_waiting() -> bool:
        response = await gateway.client.get(f"/v1/batches/{batch_id}", headers=headers)
        progress = (await response.json())["progress"]["forestry"]
        return bool(progress["waiting"] == SUBJECTS)

    await until(all_waiting, timeout=30)
    clock.at = submitted + timedelta(seconds=DEADLINE - 1)
    seen = mocks.stats("forestry")["requests"]
    await until(lambda: _more(mocks, seen + SUBJECTS), timeout=30)  # still asking, a second early
    batch = await (await gateway.client.get(f"/v1/batches/{batch_id}", headers=headers)).json()
    assert batch["status"] == "running"
    assert batch["progress"]["forestry"]["failed"] == 0
    assert batch["progress"]["forestry"]["waiting"] == SUBJECTS
    waiting = [r for r in await gateway.all_results(batch_id) if r["agency"] == "forestry"]
    assert {r["status"] for r in waiting} == {"waiting"}
    assert all(r["error"].startswith("forestry: ") and r["next_attempt_at"] for r in waiting)
    assert all(r["completed_at"] is None and r["data"] is None for r in waiting)
    check(await openapi(gateway), "get", "/v1/batches/{batch_id}/results", 200, {
        "items": waiting, "next_cursor": None})  # fmt: skip
    health = await (await gateway.client.get("/v1/agencies", headers=headers)).json()
    queue = {a["name"]: a["queue"] for a in health["agencies"]}["forestry"]
    assert queue["waiting"] == SUBJECTS

    # The deadline passes on the gateway's clock: now, and only now, they fail.
    clock.at = submitted + timedelta(seconds=DEADLINE)
    await gateway.wait_finished(batch_id, timeout=30)
    results = await gateway.all_results(batch_id)
    failed = [r for r in results if r["agency"] == "forestry"]
    assert len(failed) == SUBJECTS
    assert {r["status"] for r in failed} == {"failed"}
    assert all(r["error"].startswith("forestry: no answer within the deadline") for r in failed)
    assert all(r["attempts"] >= 2 for r in failed)  # asked again before giving up
    assert_equal_to_truth([r for r in results if r["agency"] == "household"], mocks)
    metrics = await (await gateway.client.get("/metrics")).text()
    assert f'gateway_inquiries_overdue_total{{agency="forestry"}} {float(SUBJECTS)}' in metrics

    # Back again: the officer re-runs what got no answer in time; a new deadline applies.
    mocks.set_faults("forestry", {})
    response = await gateway.client.post(f"/v1/batches/{batch_id}/rerun", headers=headers)
    assert response.status == 200
    rerun = await response.json()
    check(await openapi(gateway), "post", "/v1/batches/{batch_id}/rerun", 200, rerun)
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
    again = await gateway.client.post(f"/v1/batches/{batch_id}/rerun", headers=headers)
    assert (await again.json())["requeued"] == {}  # nothing left to re-run


async def _more(mocks: Any, requests: int) -> bool:
    await asyncio.sleep(0)
    return bool(mocks.stats("forestry")["requests"] >= requests)


async def test_a_permanent_refusal_fails_at_once_whatever_the_deadline(
    start_gateway: StartGateway, mocks: Any
) -> None:
    mocks.set_faults("vehicle", {"400": 1.0})
    gateway = await start_gateway()
    created = await gateway.submit(body(sample_ids(3, seed=8), agencies=["vehicle"]))
    await gateway.wait_finished(created["id"], timeout=30)
    results = await gateway.all_results(created["id"])
    assert {(r["status"], r["attempts"]) for r in results} == {("failed", 1)}
    assert mocks.stats("vehicle")["requests"] == 1  # one group of three, asked once


async def test_a_rerun_is_for_the_batch_team_only(start_gateway: StartGateway, mocks: Any) -> None:
    gateway = await start_gateway()
    created = await gateway.submit(body(sample_ids(2, seed=5), agencies=["vehicle"]))
    other = await gateway.headers(team="team-b")
    response = await gateway.client.post(f"/v1/batches/{created['id']}/rerun", headers=other)
    assert response.status == 404
    commander = await gateway.headers(role="commander", team=None)
    response = await gateway.client.post(f"/v1/batches/{created['id']}/rerun", headers=commander)
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
        # three people found: an identity and a photo each (requests, not calls)
        household = mocks.stats("household")["requests"]
        assert by_name["household"]["recent"]["requests"] == household
        assert by_name["household"]["recent"]["error_rate"] == 0
        assert by_name["household"]["recent"]["median_latency_ms"] is not None
        assert by_name["forestry"]["recent"]["requests"] == 0
        assert by_name["household"]["queue"] == {
            "queued": 0,
            "leased": 0,
            "held": 0,
            "waiting": 0,
            "late": 0,
        }
    for role, team in (("auditor", None), ("admin", None)):
        response = await gateway.client.get(
            "/v1/agencies", headers=await gateway.headers(role=role, team=team)
        )
        assert response.status == 403, role
    assert (await gateway.client.get("/v1/agencies")).status == 401
    metrics = await (await gateway.client.get("/metrics")).text()
    for name in ("gateway_breaker_state", "gateway_agency_in_flight_global"):
        assert f'{name}{{agency="household"}}' in metrics, name
