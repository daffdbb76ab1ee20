"""Violation interception: every rule answers 403 with its reason code and a plain
explanation, stores nothing, leaves an audit record and is counted; each can be switched off."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from gateway.store.batches import FEW_SUBJECTS
from mocks.population import sample_ids
from tests.conftest import Gateway
from tests.integration.accountability.helpers import (
    CASE,
    OTHER_CASE,
    GatewayFactory,
    auth,
    batch_body,
    file_case,
    metric,
    post_batch,
    start,
    stored,
)


async def assert_intercepted(
    gateway: Gateway, body: dict[str, Any], reason: str, team: str = "team-a"
) -> dict[str, Any]:
    before = await stored(gateway)
    audits_before = await intercept_audits(gateway, reason)
    counted_before = await metric(gateway, "gateway_interceptions_total", reason=reason)
    response = await post_batch(gateway, body, team=team)
    assert response.status == 403, await response.text()
    error = (await response.json())["error"]
    assert error["code"] == "intercepted" and error["reason"] == reason
    assert error["message"]
    text = str(error)
    for subject in body["subjects"]:  # the explanation names no person
        assert subject["id_number"] not in text and subject["name"] not in text
    assert await stored(gateway) == before
    records = await intercept_audits(gateway, reason)
    assert len(records) == len(audits_before) + 1
    record = records[-1]
    assert record["officer"] == f"officer-{team}" and record["team"] == team
    assert record["case_number"] == body["case_number"] and record["batch_id"] is None
    assert await metric(gateway, "gateway_interceptions_total", reason=reason) == (
        counted_before + 1
    )
    return error


async def intercept_audits(gateway: Gateway, reason: str) -> list[Any]:
    async with gateway.pool.acquire() as conn:
        return await conn.fetch(
            "SELECT * FROM audit_log WHERE action = 'batch.intercepted' AND outcome = $1 "
            "ORDER BY id",
            reason,
        )


async def test_a_case_not_registered_as_filed_is_intercepted(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await start(gateway_factory)
    error = await assert_intercepted(gateway, batch_body(n=2), "case_not_filed")
    assert "filed" in error["message"]


async def test_another_teams_case_is_intercepted_and_the_own_team_may_query(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await start(gateway_factory)
    await file_case(gateway, CASE, team="team-b")
    error = await assert_intercepted(gateway, batch_body(n=2), "case_other_team")
    assert error["team"] == "team-b"
    assert (await post_batch(gateway, batch_body(n=2), team="team-b")).status == 202


async def test_a_case_registered_in_ascii_brackets_matches_full_width(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await start(gateway_factory)
    await file_case(gateway, "(2023)吉0302执456号")
    response = await post_batch(gateway, batch_body(n=1, case=OTHER_CASE))
    assert response.status == 202


async def test_a_malformed_case_number_is_still_a_422_naming_the_field(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await start(gateway_factory)
    response = await post_batch(gateway, batch_body(n=1, case="（2022）吉03民123号"))
    assert response.status == 422
    assert (await response.json())["error"]["problems"][0]["field"] == "case_number"


async def test_the_daily_quota_counts_every_batch_of_the_officer_today(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await start(gateway_factory, quota_subjects_per_day=10)
    await file_case(gateway)
    assert (await post_batch(gateway, batch_body(n=6, seed=1))).status == 202
    error = await assert_intercepted(gateway, batch_body(n=5, seed=2), "daily_quota_exceeded")
    assert (error["quota"], error["used"], error["requested"]) == (10, 6, 5)
    assert (await post_batch(gateway, batch_body(n=4, seed=3))).status == 202  # exactly 10


async def test_a_long_list_asked_again_is_refused_with_nothing_stored(
    gateway_factory: GatewayFactory,
) -> None:
    # Past FEW_SUBJECTS the subjects go by COPY before the re-query rule reads the stored
    # ones: the list's own rows do not count as asked before, and the refusal removes them.
    rows = FEW_SUBJECTS + 100
    gateway = await start(gateway_factory)
    await file_case(gateway)
    people = sample_ids(2 * rows, seed=6)
    assert (await post_batch(gateway, batch_body(people[:rows]))).status == 202
    again = people[rows:]
    again[7], again[rows - 1] = people[3], people[rows - 2]  # two asked before
    error = await assert_intercepted(gateway, batch_body(again), "requery_without_reason")
    assert error["rows"] == [7, rows - 1] and error["count"] == 2
    async with gateway.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM subjects") == rows


async def two_asked_of_four(
    gateway_factory: GatewayFactory,
) -> tuple[Gateway, list[tuple[str, str]]]:
    """A gateway with every rule on, and four people of whom team-a asked about the first two."""
    gateway = await start(gateway_factory)
    await file_case(gateway)
    people = sample_ids(4, seed=5)
    assert (await post_batch(gateway, batch_body(people[:2]))).status == 202
    return gateway, people


async def test_an_uploaded_list_asked_again_names_the_rows_as_the_sheet_shows_them(
    gateway_factory: GatewayFactory,
) -> None:
    gateway, people = await two_asked_of_four(gateway_factory)
    # header on line 1, two blank rows, then a new, an asked, a new and an asked person
    lines = ["姓名,身份证号", "", ""]
    lines += [f"{name},{number}" for name, number in (people[2], people[1], people[3], people[0])]
    form = aiohttp.FormData()
    form.add_field("case_number", CASE)
    form.add_field("reason", "查询被执行人财产")
    form.add_field("file", "\n".join(lines).encode(), filename="名单.csv")
    response = await gateway.client.post(
        "/v1/batches/upload", data=form, headers=await auth(gateway, "officer", "team-a")
    )
    assert response.status == 403, await response.text()
    error = (await response.json())["error"]
    assert error["reason"] == "requery_without_reason"
    assert (error["rows"], error["sheet_rows"]) == ([1, 3], [5, 7])


async def test_the_quota_holds_against_concurrent_batches(gateway_factory: GatewayFactory) -> None:
    gateway = await start(gateway_factory, quota_subjects_per_day=10)
    await file_case(gateway)
    responses = await asyncio.gather(
        *(post_batch(gateway, batch_body(n=6, seed=s)) for s in (11, 12, 13))
    )
    assert sorted(r.status for r in responses) == [202, 403, 403]


async def test_the_quota_is_per_officer_and_per_day(gateway_factory: GatewayFactory) -> None:
    gateway = await start(gateway_factory, quota_subjects_per_day=5)
    await file_case(gateway)
    assert (await post_batch(gateway, batch_body(n=5, seed=1))).status == 202
    headers = {"Authorization": f"Bearer {await gateway.token('officer', 'team-a', 'clerk-2')}"}
    other = await gateway.client.post("/v1/batches", json=batch_body(n=5, seed=2), headers=headers)
    assert other.status == 202  # a colleague has a quota of their own
    gateway.clock.local(day_offset=1)
    assert (await post_batch(gateway, batch_body(n=5, seed=3))).status == 202


async def test_asking_again_for_a_subject_needs_a_stated_reason(
    gateway_factory: GatewayFactory,
) -> None:
    gateway, people = await two_asked_of_four(gateway_factory)
    again = batch_body([people[2], people[1], people[3], people[0]])
    error = await assert_intercepted(gateway, again, "requery_without_reason")
    assert error["rows"] == [1, 3] and error["count"] == 2
    justified = {**again, "requery_reason": "被执行人名下新增不动产线索，需再次查询"}
    response = await post_batch(gateway, justified)
    assert response.status == 202
    batch_id = (await response.json())["id"]
    async with gateway.pool.acquire() as conn:
        stored_reason = await conn.fetchval(
            "SELECT requery_reason FROM batches WHERE id = $1", batch_id
        )
        record = await conn.fetchrow(
            "SELECT outcome, detail FROM audit_log WHERE batch_id = $1"
            " AND action = 'batch.requery_justified'",
            batch_id,
        )
    assert stored_reason == justified["requery_reason"]
    assert record["outcome"] == "justified" and record["detail"]["subjects"] == 2
    # The append-only log records that a reason was given, never its free text.
    assert record["detail"]["reason_characters"] == len(justified["requery_reason"])
    assert justified["requery_reason"] not in str(record["detail"])


async def test_the_requery_window_is_per_team(gateway_factory: GatewayFactory) -> None:
    gateway = await start(gateway_factory)
    await file_case(gateway, CASE, "team-a")
    await file_case(gateway, OTHER_CASE, "team-b")
    people = sample_ids(2, seed=6)
    assert (await post_batch(gateway, batch_body(people))).status == 202
    response = await post_batch(gateway, batch_body(people, case=OTHER_CASE), team="team-b")
    assert response.status == 202


@pytest.mark.parametrize(
    "overrides",
    [{"require_filed_case": False}, {"quota_subjects_per_day": 0}, {"requery_days": 0}],
    ids=["filed-case", "quota", "requery"],
)
async def test_each_rule_can_be_switched_off(
    gateway_factory: GatewayFactory, overrides: dict[str, Any]
) -> None:
    gateway = await start(gateway_factory, **overrides)
    if overrides.get("require_filed_case", True):
        await file_case(gateway)
    body = batch_body(n=2, seed=7)
    # Unfiled case; a quota of 0 would refuse anything; the same two people twice.
    assert (await post_batch(gateway, body)).status == 202
    assert (await post_batch(gateway, body)).status == (202 if "requery_days" in overrides else 403)


async def test_a_requery_reason_must_be_text(gateway_factory: GatewayFactory) -> None:
    gateway = await start(gateway_factory)
    await file_case(gateway)
    for bad in (42, "", "x" * 2001):
        response = await post_batch(gateway, {**batch_body(n=1), "requery_reason": bad})
        assert response.status == 422
        assert (await response.json())["error"]["problems"][0]["field"] == "requery_reason"
