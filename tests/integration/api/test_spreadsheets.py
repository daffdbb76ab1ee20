"""Batches uploaded as .xlsx and results exported as .xlsx, as enforcement teams work."""

from __future__ import annotations

import io
from typing import Any

import aiohttp
from openpyxl import Workbook, load_workbook

from mocks.population import sample_ids
from tests.conftest import CASE, Gateway


def workbook(rows: list[list[Any]], header: list[str] | None = None) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header or ["序号", "被执行人姓名", "身份证号码"])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def form(data: bytes, **fields: str) -> aiohttp.FormData:
    payload = aiohttp.FormData()
    payload.add_field("case_number", fields.get("case_number", CASE))
    payload.add_field("reason", fields.get("reason", "批量查询"))
    for name in ("agencies", "household_items"):
        if name in fields:
            payload.add_field(name, fields[name])
    payload.add_field("file", data, filename="debtors.xlsx")
    return payload


async def upload(gateway: Gateway, data: bytes, **fields: str) -> aiohttp.ClientResponse:
    return await gateway.client.post(
        "/v1/batches/upload", data=form(data, **fields), headers=await gateway.headers()
    )


async def test_an_uploaded_workbook_becomes_a_batch_and_exports_its_results(
    gateway: Gateway,
) -> None:
    people = sample_ids(5, seed=31)
    persons = [(n, i) for n, i in people if not i[0].isalpha()]
    rows: list[list[Any]] = [[k + 1, n, i] for k, (n, i) in enumerate(persons)]
    rows.insert(2, [None, None, None])  # a blank row is skipped
    response = await upload(gateway, workbook(rows), agencies="household, vehicle")
    assert response.status == 202, await response.text()
    created = await response.json()
    assert created["subject_count"] == len(persons)
    assert created["agencies"] == ["household", "vehicle"]
    await gateway.wait_finished(created["id"])

    export = await gateway.client.get(
        f"/v1/batches/{created['id']}/results.xlsx", headers=await gateway.headers()
    )
    assert export.status == 200
    assert export.content_type.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(await export.read()))
    assert book.sheetnames == ["汇总", "户政", "车管所", "批次信息"]  # the agencies asked
    values = list(book["汇总"].iter_rows(values_only=True))
    assert values[0][:3] == ("序号", "姓名/名称", "证件号码")
    body = values[1:]
    assert [r[2] for r in body] == [i for _, i in persons]  # one row per person, in order
    assert all(r[3] and r[4] for r in body)  # every agency says something readable


async def test_an_upload_may_ask_the_household_registry_for_the_photo_only(
    gateway: Gateway, mocks: Any
) -> None:
    people = [(n, i) for n, i in sample_ids(6, seed=32) if not i[0].isalpha()]
    rows: list[list[Any]] = [[k + 1, n, i] for k, (n, i) in enumerate(people)]
    response = await upload(
        gateway, workbook(rows), agencies="household", household_items=" photo "
    )
    assert response.status == 202, await response.text()
    created = await response.json()
    assert created["household_items"] == ["photo"]
    await gateway.wait_finished(created["id"])
    results = await gateway.all_results(created["id"])
    assert [r["data"] for r in results] == [
        mocks.truth("household", i, items=("photo",)) for _, i in people
    ]
    export = await gateway.client.get(
        f"/v1/batches/{created['id']}/results.xlsx", headers=await gateway.headers()
    )
    summary = list(
        load_workbook(io.BytesIO(await export.read()))["汇总"].iter_rows(values_only=True)
    )
    words = {r[3] for r in summary[1:]}  # the household column
    assert words <= {"有照片", "未见"} and "有照片" in words
    refused = await upload(gateway, workbook(rows), household_items="address")
    assert refused.status == 422
    assert (await refused.json())["error"]["problems"][0]["field"] == "household_items"


async def test_nothing_ticked_is_refused_never_widened_to_every_agency(gateway: Gateway) -> None:
    (name, number), *_ = sample_ids(1, seed=33)
    data = workbook([[1, name, number]])
    for fields, field in (
        ({"agencies": ""}, "agencies"),  # the page sends the field even with nothing ticked
        ({"agencies": " , "}, "agencies"),
        ({"agencies": "household", "household_items": ""}, "household_items"),
    ):
        refused = await upload(gateway, data, **fields)
        assert refused.status == 422, (fields, await refused.text())
        assert [p["field"] for p in (await refused.json())["error"]["problems"]] == [field]
    async with gateway.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM batches") == 0
    # no household item ticked, and the household registry not asked: nothing to refuse
    taken = await upload(gateway, data, agencies="vehicle", household_items="")
    assert taken.status == 202, await taken.text()
    assert (await taken.json())["agencies"] == ["vehicle"]


async def test_bad_rows_are_named_by_their_spreadsheet_row_and_nothing_is_stored(
    gateway: Gateway,
) -> None:
    (name, good), *_ = sample_ids(1, seed=3)
    rows = [[1, name, good], [None, None, None], [2, "李四", "22030219650412001X"]]
    response = await upload(gateway, workbook(rows))
    assert response.status == 422
    problems = (await response.json())["error"]["problems"]
    assert [(p["row"], p["sheet_row"], p["field"]) for p in problems] == [(1, 4, "id_number")]
    async with gateway.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM batches") == 0


async def test_an_id_stored_as_a_number_is_named_as_such(gateway: Gateway) -> None:
    (name, number), *_ = [p for p in sample_ids(10, seed=6) if p[1].isdigit()]
    response = await upload(gateway, workbook([[1, name, int(number)]]))
    assert response.status == 422
    (problem,) = (await response.json())["error"]["problems"]
    assert problem["sheet_row"] == 2 and "format the column as text" in problem["problem"]


async def test_a_malformed_case_number_is_audited_when_ids_are_stored_as_numbers_too(
    gateway: Gateway,
) -> None:
    (name, number), *_ = [p for p in sample_ids(10, seed=6) if p[1].isdigit()]
    data = workbook([[1, name, int(number)]])
    response = await upload(gateway, data, case_number="（2022）吉03民123号")
    assert response.status == 422
    fields = {p["field"] for p in (await response.json())["error"]["problems"]}
    assert fields == {"case_number", "id_number"}  # both named at once
    async with gateway.pool.acquire() as conn:
        outcomes = await conn.fetch(
            "SELECT outcome FROM audit_log WHERE action = 'batch.intercepted'"
        )
        assert await conn.fetchval("SELECT count(*) FROM batches") == 0
    assert [o["outcome"] for o in outcomes] == ["case_malformed"]


async def test_unreadable_or_unlabelled_workbooks_are_422(gateway: Gateway) -> None:
    not_xlsx = await upload(gateway, b"PK\x03\x04 not really a zip")
    assert not_xlsx.status == 422
    assert (await not_xlsx.json())["error"]["problems"][0]["field"] == "file"
    unlabelled = await upload(gateway, workbook([["a", "b"]], header=["x", "y"]))
    assert unlabelled.status == 422
    assert (await unlabelled.json())["error"]["problems"][0]["sheet_row"] == 1
    json_body = await gateway.client.post(
        "/v1/batches/upload", json={}, headers=await gateway.headers()
    )
    assert json_body.status == 400


async def test_another_teams_results_workbook_is_404(gateway: Gateway) -> None:
    response = await upload(gateway, workbook([[1, *sample_ids(1, seed=4)[0]]]))
    created = await response.json()
    other = await gateway.client.get(
        f"/v1/batches/{created['id']}/results.xlsx", headers=await gateway.headers(team="team-b")
    )
    assert other.status == 404
