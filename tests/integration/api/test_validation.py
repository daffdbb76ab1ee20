"""Bad input gets a clear 4xx JSON error naming the field or row, and nothing is stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from stdnum.cn import ric

from tests.conftest import Gateway

CASE = "（2022）吉03执123号"


def resident_id(area: str = "220302", birth: str = "19650412", seq: str = "123") -> str:
    body = area + birth + seq
    # calc_check_digit takes the whole number and ignores its last character.
    return body + ric.calc_check_digit(body + "0")


GOOD_ID = resident_id()
GOOD = {
    "case_number": CASE,
    "reason": "查询被执行人财产",
    "subjects": [{"name": "张三", "id_number": GOOD_ID}],
}


def with_subject(**subject: Any) -> dict[str, Any]:
    return {**GOOD, "subjects": [subject]}


async def stored_counts(gateway: Gateway) -> tuple[int, int, int]:
    async with gateway.pool.acquire() as conn:
        return (
            await conn.fetchval("SELECT count(*) FROM batches"),
            await conn.fetchval("SELECT count(*) FROM subjects"),
            await conn.fetchval("SELECT count(*) FROM inquiries"),
        )


CASES: list[tuple[str, Any, int, int | None, str, str]] = [
    # (label, body, status, row, field, words in the problem)
    ("no case number", {**GOOD, "case_number": None}, 422, None, "case_number", "required"),
    (
        "civil case",
        {**GOOD, "case_number": "（2022）吉03民123号"},
        422,
        None,
        "case_number",
        "enforcement",
    ),
    (
        "no brackets",
        {**GOOD, "case_number": "2022吉03执123号"},
        422,
        None,
        "case_number",
        "brackets",
    ),
    ("no reason", {**GOOD, "reason": "  "}, 422, None, "reason", "required"),
    ("unknown agency", {**GOOD, "agencies": ["bank"]}, 422, None, "agencies", "unknown agency"),
    ("agencies not list", {**GOOD, "agencies": "vehicle"}, 422, None, "agencies", "list"),
    ("no subjects", {**GOOD, "subjects": []}, 422, None, "subjects", "empty"),
    ("subjects not list", {**GOOD, "subjects": {"a": 1}}, 422, None, "subjects", "list"),
    ("unknown field", {**GOOD, "priority": 1}, 422, None, "priority", "not a known field"),
    ("row not object", {**GOOD, "subjects": ["张三"]}, 422, 0, "(row)", "object"),
    ("no name", with_subject(id_number=GOOD_ID), 422, 0, "name", "required"),
    ("no id", with_subject(name="张三"), 422, 0, "id_number", "required"),
    (
        "bad check",
        with_subject(name="张三", id_number=GOOD_ID[:-1] + ("0" if GOOD_ID[-1] != "0" else "1")),
        422,
        0,
        "id_number",
        "check character",
    ),
    (
        "bad date",
        with_subject(name="张三", id_number=resident_id(birth="19650230")),
        422,
        0,
        "id_number",
        "",
    ),
    ("short id", with_subject(name="张三", id_number="22030219650412"), 422, 0, "id_number", "18"),
    ("control chars", with_subject(name="张\x00三", id_number=GOOD_ID), 422, 0, "name", "allowed"),
]


@pytest.mark.parametrize(
    ("label", "body", "status", "row", "field", "words"), CASES, ids=[c[0] for c in CASES]
)
async def test_each_validation_error_is_named_and_nothing_is_stored(
    gateway: Gateway, label: str, body: Any, status: int, row: int | None, field: str, words: str
) -> None:
    response = await gateway.client.post("/v1/batches", json=body, headers=await gateway.headers())
    assert response.status == status
    error = (await response.json())["error"]
    assert error["code"] == "validation_failed"
    assert len(error["problems"]) == 1, error
    problem = error["problems"][0]
    assert (problem["row"], problem["field"]) == (row, field)
    assert words in problem["problem"]
    assert await stored_counts(gateway) == (0, 0, 0)


async def test_one_bad_row_refuses_the_whole_batch_and_lists_every_problem(
    gateway: Gateway,
) -> None:
    subjects = [{"name": f"人{i}", "id_number": resident_id(seq=f"{i:03d}")} for i in range(1, 6)]
    subjects[1]["id_number"] = "123"
    subjects[3] = {"name": "", "id_number": subjects[0]["id_number"]}
    subjects[4] = {"name": "另一人", "id_number": subjects[0]["id_number"]}
    response = await gateway.client.post(
        "/v1/batches", json={**GOOD, "subjects": subjects}, headers=await gateway.headers()
    )
    assert response.status == 422
    problems = (await response.json())["error"]["problems"]
    assert {(p["row"], p["field"]) for p in problems} == {
        (1, "id_number"),
        (3, "name"),
        (4, "name"),
    }
    assert next(p["problem"] for p in problems if p["row"] == 4) == (
        "has the identifier of row 0 under another name"
    )
    assert await stored_counts(gateway) == (0, 0, 0)


async def test_problems_never_echo_the_identifier(gateway: Gateway) -> None:
    bad = GOOD_ID[:-1] + ("0" if GOOD_ID[-1] != "0" else "1")
    response = await gateway.client.post(
        "/v1/batches",
        json=with_subject(name="张三", id_number=bad),
        headers=await gateway.headers(),
    )
    text = await response.text()
    assert response.status == 422
    assert bad not in text and GOOD_ID[:17] not in text


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe", b"[1, 2"])
async def test_malformed_json_is_400(gateway: Gateway, raw: bytes) -> None:
    headers = {**await gateway.headers(), "Content-Type": "application/json"}
    response = await gateway.client.post("/v1/batches", data=raw, headers=headers)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "bad_request"
    assert await stored_counts(gateway) == (0, 0, 0)


@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"42", b"null"])
async def test_json_that_is_not_an_object_is_422(gateway: Gateway, raw: bytes) -> None:
    headers = {**await gateway.headers(), "Content-Type": "application/json"}
    response = await gateway.client.post("/v1/batches", data=raw, headers=headers)
    assert response.status == 422
    assert (await response.json())["error"]["problems"][0]["field"] == "(body)"


async def test_too_many_subjects_is_413(gateway_factory: Any) -> None:
    gateway = await gateway_factory(max_subjects=3)
    subjects = [{"name": f"人{i}", "id_number": resident_id(seq=f"{i:03d}")} for i in range(1, 5)]
    response = await gateway.client.post(
        "/v1/batches", json={**GOOD, "subjects": subjects}, headers=await gateway.headers()
    )
    assert response.status == 413
    error = (await response.json())["error"]
    assert error["field"] == "subjects" and error["limit"] == 3
    assert await stored_counts(gateway) == (0, 0, 0)


async def test_body_over_the_limit_is_413(gateway_factory: Any) -> None:
    gateway = await gateway_factory(max_body_bytes=2048)
    body = {**GOOD, "reason": "x" * 4096}
    response = await gateway.client.post("/v1/batches", json=body, headers=await gateway.headers())
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "payload_too_large"
    assert await stored_counts(gateway) == (0, 0, 0)


@pytest.mark.parametrize("key", ["", "k" * 201, "bad\tkey"])
async def test_bad_idempotency_key_is_422(gateway: Gateway, key: str) -> None:
    headers = {**await gateway.headers(), "Idempotency-Key": key}
    response = await gateway.client.post("/v1/batches", json=GOOD, headers=headers)
    assert response.status == 422
    assert (await response.json())["error"]["problems"][0]["field"] == "Idempotency-Key"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/batches/not-a-uuid", 404),
        ("GET", "/v1/batches/00000000-0000-0000-0000-000000000000", 404),
        ("GET", "/v1/batches/00000000-0000-0000-0000-000000000000/results", 404),
        ("POST", "/v1/batches/00000000-0000-0000-0000-000000000000/cancel", 404),
        ("GET", "/v1/batches?limit=0", 422),
        ("GET", "/v1/batches?limit=abc", 422),
        ("GET", "/v1/batches?cursor=%%%", 400),
        ("GET", "/v1/nowhere", 404),
        ("DELETE", "/v1/batches", 405),
    ],
)
async def test_odd_requests_get_json_errors_not_500(
    gateway: Gateway, method: str, path: str, status: int
) -> None:
    response = await gateway.client.request(method, path, headers=await gateway.headers())
    assert response.status == status
    assert "error" in await response.json()


async def test_a_malformed_case_number_is_also_audited_and_counted_as_a_violation(
    gateway: Gateway,
) -> None:
    response = await gateway.client.post(
        "/v1/batches",
        # a name typed where the case type goes: refused, and never written down
        json={**GOOD, "case_number": "（2022）吉03张三丰123号"},
        headers=await gateway.headers(),
    )
    assert response.status == 422
    assert "张三丰" not in json.dumps(await response.json(), ensure_ascii=False)
    async with gateway.pool.acquire() as conn:
        record = await conn.fetchrow(
            "SELECT officer, outcome, case_number, detail FROM audit_log "
            "WHERE action = 'batch.intercepted'"
        )
    assert record["outcome"] == "case_malformed" and record["officer"] == "officer-team-a"
    assert record["case_number"] is None  # the malformed text is not kept
    assert "张三丰" not in record["detail"]["problem"]
    assert "not an enforcement case type" in record["detail"]["problem"]
    metrics = await (await gateway.client.get("/metrics")).text()
    assert 'gateway_interceptions_total{reason="case_malformed"} 1.0' in metrics
    assert await stored_counts(gateway) == (0, 0, 0)
