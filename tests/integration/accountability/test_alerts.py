"""Risk alerts: flagged, never blocking; listed for commanders; counted; no personal data."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest

from gateway.store import batches as store_batches
from gateway.store.crypto import DataCipher, cipher_for
from mocks.population import sample_ids
from tests.conftest import Gateway
from tests.integration.accountability.helpers import (
    OTHER_CASE,
    Clock,
    GatewayFactory,
    auth,
    batch_body,
    file_case,
    metric,
    post_batch,
    recent_wednesday,
    start,
)
from tests.integration.processes import until

#: no alert but the one a test is about
QUIET: dict[str, Any] = {
    "working_hours": "",
    "volume_alert_factor": 0,
    "cross_team_alert_teams": 0,
    "requery_days": 0,
}


async def alerts(gateway: Gateway, query: str = "") -> list[dict[str, Any]]:
    response = await gateway.client.get(
        f"/v1/alerts{query}", headers=await auth(gateway, "commander")
    )
    assert response.status == 200, await response.text()
    return (await response.json())["items"]


async def submit(gateway: Gateway, body: dict[str, Any], team: str = "team-a") -> str:
    response = await post_batch(gateway, body, team=team)
    assert response.status == 202, await response.text()  # an alert never blocks
    return str((await response.json())["id"])


async def test_submissions_outside_working_hours_are_flagged(
    gateway_factory: GatewayFactory,
) -> None:
    clock = Clock(recent_wednesday())  # Wednesday 10:00 in Shanghai
    gateway = await start(gateway_factory, clock, **{**QUIET, "working_hours": "08:00-18:00"})
    await file_case(gateway)
    await submit(gateway, batch_body(n=1, seed=1))
    assert await alerts(gateway) == []
    clock.local(hour=18, minute=0)  # the end is outside
    late = await submit(gateway, batch_body(n=1, seed=2))
    clock.local(day_offset=3, hour=10)  # Saturday
    weekend = await submit(gateway, batch_body(n=1, seed=3))
    clock.local(day_offset=2, hour=7, minute=59)  # Monday, early
    early = await submit(gateway, batch_body(n=1, seed=4))
    found = await alerts(gateway, "?kind=off_hours")
    assert [a["batch_id"] for a in found] == [early, weekend, late]  # newest first
    assert found[0]["detail"]["local_time"].endswith("07:59+08:00")
    assert {a["officer"] for a in found} == {"officer-team-a"}
    assert await metric(gateway, "gateway_alerts_total", kind="off_hours") == 3


async def test_a_volume_far_above_the_officers_usual_is_flagged_once_a_day(
    gateway_factory: GatewayFactory,
) -> None:
    clock = Clock(recent_wednesday())
    quiet = {**QUIET, "volume_alert_factor": 3.0, "volume_alert_floor": 50}
    gateway = await start(gateway_factory, clock, **quiet)
    await file_case(gateway)
    people = iter(sample_ids(160, seed=9))

    def batch(n: int) -> dict[str, Any]:
        return batch_body([next(people) for _ in range(n)])

    # The usual: 90 subjects over the previous 30 days, 3 a day, each day under the floor.
    clock.local(day_offset=-20)
    await submit(gateway, batch(45))
    clock.local(day_offset=10)
    await submit(gateway, batch(45))
    clock.local(day_offset=10)
    await submit(gateway, batch(30))
    assert await alerts(gateway) == []  # the line today: max(floor 50, 3 x 3) = 50
    crossing = await submit(gateway, batch(25))  # 55 today
    await submit(gateway, batch(10))  # 65: the same day, no second alert
    found = await alerts(gateway)
    assert [(a["kind"], a["batch_id"]) for a in found] == [("volume_spike", crossing)]
    assert found[0]["detail"] == {"today": 55, "daily_average": 3.0, "line": 50}
    assert await metric(gateway, "gateway_alerts_total", kind="volume_spike") == 1


async def test_a_busy_officers_usual_raises_their_line(gateway_factory: GatewayFactory) -> None:
    clock = Clock(recent_wednesday())
    quiet = {**QUIET, "volume_alert_factor": 3.0, "volume_alert_floor": 5}
    gateway = await start(gateway_factory, clock, **quiet)
    await file_case(gateway)
    people = iter(sample_ids(70, seed=10))
    clock.local(day_offset=-1)
    await submit(gateway, batch_body([next(people) for _ in range(60)]))  # 2 a day on average
    clock.local(day_offset=1)
    await submit(gateway, batch_body([next(people) for _ in range(6)]))  # not above 3 x 2
    assert [a["detail"]["line"] for a in await alerts(gateway)] == [5]  # yesterday's
    await submit(gateway, batch_body([next(people)]))
    assert [a["detail"]["line"] for a in await alerts(gateway)] == [6, 5]


async def test_a_subject_looked_up_by_many_teams_is_flagged(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await start(gateway_factory, **{**QUIET, "cross_team_alert_teams": 3})
    cases = {"team-a": "（2022）吉03执1号", "team-b": "（2022）吉03执2号"}
    cases |= {"team-c": "（2022）吉03执3号", "team-d": "（2022）吉03执4号"}
    for team, case in cases.items():
        await file_case(gateway, case, team)
    shared, *others = sample_ids(5, seed=12)
    await submit(gateway, batch_body([shared, others[0]], case=cases["team-a"]), "team-a")
    await submit(gateway, batch_body([shared, others[1]], case=cases["team-b"]), "team-b")
    assert await alerts(gateway) == []
    third = await submit(gateway, batch_body([shared], case=cases["team-c"]), "team-c")
    await submit(gateway, batch_body([shared], case=cases["team-a"]), "team-a")  # not new
    fourth = await submit(gateway, batch_body([shared], case=cases["team-d"]), "team-d")
    found = await alerts(gateway, "?kind=cross_team_subject")
    assert [(a["batch_id"], a["team"], a["detail"]["teams"]) for a in found] == [
        (fourth, "team-d", 4),
        (third, "team-c", 3),
    ]
    cipher: DataCipher = cipher_for(gateway.settings)
    assert found[0]["subject_digest"] == cipher.subject_digest(shared[1]).hex()
    assert await metric(gateway, "gateway_alerts_total", kind="cross_team_subject") == 2
    text = json.dumps(await alerts(gateway), ensure_ascii=False)
    assert shared[0] not in text and shared[1] not in text  # digest only


async def test_a_large_list_is_checked_with_its_first_chunk_of_inquiries(
    gateway_factory: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a list of more than one subject is "large": its inquiries are stored after the 202
    monkeypatch.setattr(store_batches, "QUEUE_CHUNK", 1)
    settings = {**QUIET, "cross_team_alert_teams": 3}
    api = await start(gateway_factory, dispatch=False, **settings)
    cases = {"team-a": "（2022）吉03执1号", "team-b": "（2022）吉03执2号"}
    cases |= {"team-c": "（2022）吉03执3号", "team-d": "（2022）吉03执4号"}
    for team, case in cases.items():
        await file_case(api, case, team)
    shared, *others = sample_ids(5, seed=13)
    ids = [
        await submit(api, batch_body([shared, others[k]], case=cases[team]), team)
        for k, team in enumerate(cases)
    ]
    assert await alerts(api) == []  # not checked with the list: no worker has queued it
    worker = await start(gateway_factory, **settings)
    for batch_id in ids:
        await worker.wait_finished(batch_id)
    found = await alerts(api, "?kind=cross_team_subject")
    # each list is judged by the lists before it, not by those that came after it
    assert [(a["batch_id"], a["team"], a["detail"]["teams"]) for a in found] == [
        (ids[3], "team-d", 4),
        (ids[2], "team-c", 3),
    ]
    cipher: DataCipher = cipher_for(api.settings)
    assert found[0]["subject_digest"] == cipher.subject_digest(shared[1]).hex()
    assert await metric(worker, "gateway_alerts_total", kind="cross_team_subject") == 2


async def test_two_teams_asking_at_once_are_counted_by_the_check_that_comes_second(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await start(gateway_factory, **{**QUIET, "cross_team_alert_teams": 2})
    cases = {"team-a": "（2022）吉03执1号", "team-b": "（2022）吉03执2号"}
    for team, case in cases.items():
        await file_case(gateway, case, team)
    shared, *others = sample_ids(3, seed=14)
    team_a = await gateway.pool.fetchval("SELECT id FROM teams WHERE name = 'team-a'")
    # Team a's submission begins first (its batch stamped first) and then waits for its
    # team's turn, held here, while team b's submission begins and commits.
    async with gateway.pool.acquire() as blocker:
        held = blocker.transaction()
        await held.start()
        await blocker.execute("SELECT pg_advisory_xact_lock(5301, $1::int)", team_a)
        first = asyncio.ensure_future(
            submit(gateway, batch_body([shared, others[0]], case=cases["team-a"]), "team-a")
        )

        async def team_a_waits() -> bool:  # its session, seen from the database
            query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            return bool(await gateway.pool.fetchval(query))

        await until(team_a_waits, timeout=10)
        second = await submit(
            gateway, batch_body([shared, others[1]], case=cases["team-b"]), "team-b"
        )
        await held.rollback()
    first_id = await first
    found = await alerts(gateway, "?kind=cross_team_subject")
    # team b's check ran first and could not see team a's list; team a's saw team b's
    assert [(a["batch_id"], a["team"], a["detail"]["teams"]) for a in found] == [
        (first_id, "team-a", 2)
    ]
    assert second != first_id


async def test_alerts_are_filtered_and_paginated(gateway_factory: GatewayFactory) -> None:
    clock = Clock(recent_wednesday())
    clock.local(hour=22)
    gateway = await start(gateway_factory, clock, **{**QUIET, "working_hours": "08:00-18:00"})
    await file_case(gateway)
    await file_case(gateway, OTHER_CASE, "team-b")
    ids = []
    for seed in range(5):
        clock.at += timedelta(minutes=1)
        team = "team-b" if seed == 4 else "team-a"
        case = OTHER_CASE if team == "team-b" else "（2022）吉03执123号"
        ids.append(await submit(gateway, batch_body(n=1, seed=seed, case=case), team))
    seen: list[str] = []
    cursor = ""
    while True:
        response = await gateway.client.get(
            f"/v1/alerts?team=team-a&limit=2{cursor}", headers=await auth(gateway, "commander")
        )
        page = await response.json()
        seen += [a["batch_id"] for a in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == list(reversed(ids[:4]))
    assert [a["batch_id"] for a in await alerts(gateway, "?officer=officer-team-b")] == [ids[4]]
    assert [a["batch_id"] for a in await alerts(gateway, f"?batch_id={ids[2]}")] == [ids[2]]
    since = (clock.at - timedelta(seconds=30)).isoformat().replace("+", "%2B")
    assert [a["batch_id"] for a in await alerts(gateway, f"?since={since}")] == [ids[4]]
    assert len(await alerts(gateway, "?until=2000-01-01")) == 0
    for query, field in [
        ("kind=nope", "kind"),
        ("since=yesterday", "since"),
        ("batch_id=12", "batch_id"),
        ("limit=0", "limit"),
    ]:
        response = await gateway.client.get(
            f"/v1/alerts?{query}", headers=await auth(gateway, "commander")
        )
        assert response.status == 422
        assert (await response.json())["error"]["problems"][0]["field"] == field
    bad = await gateway.client.get(
        "/v1/alerts?cursor=%%%", headers=await auth(gateway, "commander")
    )
    assert bad.status == 400


async def test_statistics_count_batches_and_people_per_agency_and_team(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await start(gateway_factory, **{**QUIET, "approval_threshold": 3}, dispatch=False)
    await file_case(gateway)
    await file_case(gateway, OTHER_CASE, "team-b")
    people = sample_ids(4, seed=20)
    await submit(gateway, batch_body(people[:2], agencies=["household", "vehicle"]))
    await submit(gateway, batch_body(people[1:3], agencies=["household"]))  # 3 for the case
    await submit(gateway, batch_body(people[:4], case=OTHER_CASE), "team-b")  # 4 > 3: held
    response = await gateway.client.get("/v1/stats", headers=await auth(gateway, "commander"))
    assert response.status == 200
    stats = await response.json()
    household = stats["agencies"]["household"]
    # The report counts what went to the agencies: team-a's two batches (people 0-2, 2 + 2
    # inquiries), not the held one.
    assert (household["batches"], household["people"], household["inquiries"]) == (2, 3, 4)
    assert household["waiting"] == 4 and household["found"] == 0
    assert (stats["agencies"]["vehicle"]["batches"], stats["agencies"]["vehicle"]["people"]) == (
        1,
        2,
    )
    assert stats["batches"]["queued"] == 2 and stats["batches"]["pending_approval"] == 1
    assert stats["teams"] == [
        {"team": "team-a", "batches": 2, "subjects": 4, "officers": 1},
        {"team": "team-b", "batches": 1, "subjects": 4, "officers": 1},
    ]
    empty = await gateway.client.get(
        "/v1/stats?until=2000-01-01", headers=await auth(gateway, "commander")
    )
    assert (await empty.json())["agencies"]["household"]["batches"] == 0
    backwards = await gateway.client.get(
        "/v1/stats?since=2026-02-01&until=2026-01-01", headers=await auth(gateway, "commander")
    )
    assert backwards.status == 422
