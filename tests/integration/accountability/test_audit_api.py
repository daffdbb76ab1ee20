"""The auditor's API: GET /v1/audit with its filters and pages, the head, verification."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import jsonschema
import pytest

from mocks.population import sample_ids
from tests.conftest import CASE, Gateway, batch_body

OTHER_CASE = "（2023）吉0302执456号"
ENDPOINTS = ("/v1/audit", "/v1/audit/head", "/v1/audit/verify")


@pytest.fixture
async def gateway(gateway_factory: Any) -> Gateway:
    # The audit API must not depend on the admission rules, tested in test_rules*.
    return await gateway_factory(require_filed_case=False)


async def auditor(gateway: Gateway) -> dict[str, str]:
    return {"Authorization": f"Bearer {await gateway.token(role='auditor', team=None)}"}


async def get(gateway: Gateway, path: str, status: int = 200, **params: str) -> Any:
    response = await gateway.client.get(path, params=params, headers=await auditor(gateway))
    assert response.status == status, await response.text()
    return await response.json()


async def everything(gateway: Gateway, **params: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await get(gateway, "/v1/audit", **params, **({"cursor": cursor} if cursor else {}))
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


@pytest.fixture
async def two_teams(gateway: Gateway) -> dict[str, Any]:
    """Team A queries 2 people for CASE, team B 2 others for OTHER_CASE, one agency each."""
    people = {"a": sample_ids(2, seed=41), "b": sample_ids(2, seed=42)}
    batches = {}
    for team, case in (("a", CASE), ("b", OTHER_CASE)):
        body = batch_body(people[team], case=case, agencies=["household"])
        created = await gateway.submit(body, team=f"team-{team}")
        await gateway.wait_finished(created["id"])
        batches[team] = created["id"]
    return {"people": people, "batches": batches}


async def test_only_auditors_may_read_the_audit_log(gateway: Gateway) -> None:
    for path in ENDPOINTS:
        assert (await gateway.client.get(path)).status == 401
        for role, team in (("officer", "team-a"), ("commander", None), ("admin", None)):
            headers = {"Authorization": f"Bearer {await gateway.token(role=role, team=team)}"}
            response = await gateway.client.get(path, headers=headers)
            assert response.status == 403, (path, role)
        await get(gateway, path)


async def test_every_filter_selects_exactly_its_records(
    gateway: Gateway, two_teams: dict[str, Any]
) -> None:
    everyone = await everything(gateway)
    assert [i["seq"] for i in everyone] == sorted(i["seq"] for i in everyone)

    def expected(**match: Any) -> list[int]:
        return [i["seq"] for i in everyone if all(i[k] == v for k, v in match.items())]

    batch_b = two_teams["batches"]["b"]
    # per team: batch.submitted + 2 dispatched + 2 results (+ token.issued, where the
    # test's token for that team was issued inside this database)
    for team in ("team-a", "team-b"):
        batch_records = [i for i in everyone if i["team"] == team and i["action"] != "token.issued"]
        assert len(batch_records) == 5, team
    checks: list[tuple[dict[str, str], list[int]]] = [
        ({"officer": "officer-team-a"}, expected(officer="officer-team-a")),
        ({"team": "team-b"}, expected(team="team-b")),
        ({"case": "(2022)吉03执123号"}, expected(case_number=CASE)),  # ASCII brackets too
        ({"batch": batch_b}, expected(batch_id=batch_b)),
        ({"team": "team-a", "case": OTHER_CASE}, []),
        ({"officer": "nobody"}, []),
    ]
    for params, seqs in checks:
        assert [i["seq"] for i in await everything(gateway, **params)] == seqs, params
    # A subject: its dispatch and its result, found by its ID but never echoed.
    name, id_number = two_teams["people"]["b"][1]
    response = await gateway.client.get(
        "/v1/audit", params={"subject": id_number.lower()}, headers=await auditor(gateway)
    )
    text = await response.text()
    found = (await response.json())["items"]
    assert {(i["action"], i["batch_id"], i["row"]) for i in found} == {
        ("inquiry.dispatched", batch_b, 1),
        ("inquiry.result", batch_b, 1),
    }
    assert id_number not in text and id_number.lower() not in text and name not in text


async def test_time_window_and_pages(gateway: Gateway, two_teams: dict[str, Any]) -> None:
    everyone = await everything(gateway)
    middle = everyone[len(everyone) // 2]
    after = await everything(gateway, **{"from": middle["at"]})
    before = await everything(gateway, to=middle["at"])
    assert [i["seq"] for i in before + after] == [i["seq"] for i in everyone]
    assert after[0]["seq"] == middle["seq"]  # from is inclusive, to exclusive
    paged = await everything(gateway, limit="3")
    assert paged == everyone
    page = await get(gateway, "/v1/audit", limit="3")
    assert len(page["items"]) == 3 and page["next_cursor"]


async def test_records_carry_their_chain_and_no_personal_data(
    gateway: Gateway, two_teams: dict[str, Any]
) -> None:
    response = await gateway.client.get("/v1/audit", headers=await auditor(gateway))
    text = await response.text()
    items = (await response.json())["items"]
    for previous, item in pairwise(items):
        assert item["prev_hash"] == previous["hash"] and item["seq"] == previous["seq"] + 1
    assert "subject_digest" not in items[0]
    for people in two_teams["people"].values():
        for name, id_number in people:
            assert name not in text and id_number not in text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"subject": "220302196504121235"}, "subject"),  # wrong check character
        ({"subject": "not an id"}, "subject"),
        ({"case": "2022吉03执123号"}, "case"),
        ({"batch": "123"}, "batch"),
        ({"from": "2024-05-01T09:00:00"}, "from"),  # no UTC offset
        ({"from": "yesterday"}, "from"),
        ({"to": "0001-01-01T00:00:00+01:00"}, "to"),
        ({"from": "2024-05-02T00:00:00Z", "to": "2024-05-01T00:00:00Z"}, "to"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "١٢"}, "limit"),
        ({"cursor": "!!"}, "cursor"),
        ({"cursor": "c2VxOjk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5"}, "cursor"),  # seq over bigint
        ({"officer": ""}, "officer"),
        ({"team": "x" * 201}, "team"),
        ({"team": "a\x00b"}, "team"),
        ({"officer_name": "x"}, "officer_name"),
        ({"220302196504121234": "x"}, "(unknown)"),
    ],
)
async def test_bad_parameters_are_422_and_name_the_field(
    gateway: Gateway, params: dict[str, str], field: str
) -> None:
    body = await get(gateway, "/v1/audit", 422, **params)
    problems = body["error"]["problems"]
    assert [p["field"] for p in problems] == [field]
    assert problems[0]["row"] is None and problems[0]["problem"]
    assert "220302196504121" not in str(body)  # an identifier is never echoed
    if field == "subject":
        assert params["subject"] not in str(body)


async def test_a_repeated_parameter_is_refused(gateway: Gateway) -> None:
    response = await gateway.client.get("/v1/audit?team=a&team=b", headers=await auditor(gateway))
    assert response.status == 422
    assert (await response.json())["error"]["problems"][0]["field"] == "team"


async def test_head_and_verify_report_the_chain(
    gateway: Gateway, two_teams: dict[str, Any]
) -> None:
    head = await get(gateway, "/v1/audit/head")
    everyone = await everything(gateway)
    assert head["seq"] == everyone[-1]["seq"] and head["hash"] == everyone[-1]["hash"]
    assert head["export"] == f"{head['seq']}:{head['hash']}"
    verdict = await get(gateway, "/v1/audit/verify", expect_head=head["export"])
    assert verdict == {"ok": True, "checked": head["seq"], "head": head, "first_broken": None}
    async with gateway.pool.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        await conn.execute("UPDATE audit_log SET outcome = 'not_found' WHERE seq = 3")
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
    verdict = await get(gateway, "/v1/audit/verify")
    assert verdict["ok"] is False and verdict["checked"] == 2
    broken = verdict["first_broken"]
    assert (broken["seq"], broken["reason"]) == (3, "altered")
    assert broken["message"].startswith("record seq 3 ")
    bad = await get(gateway, "/v1/audit/verify", 422, expect_head="3:nothex")
    assert bad["error"]["problems"][0]["field"] == "expect_head"


async def test_the_openapi_document_describes_the_audit_endpoints_truly(
    gateway: Gateway, two_teams: dict[str, Any]
) -> None:
    document = await (await gateway.client.get("/openapi.json")).json()
    for path in ENDPOINTS:
        operation = document["paths"][path]["get"]
        assert operation["x-roles"] == ["auditor"] and "422" in operation["responses"]
    for path, status, params in [
        ("/v1/audit", 200, {"limit": "4"}),
        ("/v1/audit/head", 200, {}),
        ("/v1/audit/verify", 200, {}),
        ("/v1/audit", 422, {"batch": "x"}),
    ]:
        body = await get(gateway, path, status, **params)
        response = document["paths"][path]["get"]["responses"][str(status)]
        schema = response["content"]["application/json"]["schema"]
        jsonschema.validate(body, {**schema, "components": document["components"]})
