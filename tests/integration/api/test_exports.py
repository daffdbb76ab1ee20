"""Result files as officers take them away: GET /v1/batches/{id}/results?format=xlsx|csv|jsonl|
photos, checked cell by cell against what the stand-in agencies hold (``mocks.truth``) and
against the JSON results API.

The expected cells are written out here from the agencies' records, by hand, in the words an
officer reads; they are not computed by the code under test.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from openpyxl import load_workbook

from connectors.registry import AGENCIES, connector_classes
from gateway.accountability import batches as views
from gateway.core.errors import DatabaseUnavailable
from gateway.http.exports import handlers
from mocks.population import sample_ids
from tests.conftest import CASE, Gateway, batch_body

TITLES = {name: cls.title for name, cls in connector_classes().items()}
FORMULA = '=HYPERLINK("http://evil.example/","点击")'
#: ten people (two with forest rights, one unknown to the household registry, one organisation
#: among them), the first named with a formula
PEOPLE = [(FORMULA, sample_ids(10, seed=14)[0][1]), *sample_ids(10, seed=14)[1:]]
PEOPLE += [p for p in sample_ids(12, seed=1) if p[1][0].isalpha()]
SEX = {"male": "男", "female": "女"}
OWNERSHIP = {"sole": "单独所有", "joint": "共同共有", "by_share": "按份共有"}
VEHICLE_STATUS = {"normal": "正常", "mortgaged": "抵押", "seized": "查封", "scrapped": "报废"}
POLICE_STATUS = {"accepted": "已受理", "dispatched": "已派警"}
STATUS = {"found": "查得", "not_found": "未见", "failed": "查询失败", "waiting": "待重试"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def blank(value: Any) -> Any:
    return None if value == "" else value


def burdens(prop: dict[str, Any], kind: str) -> str | None:
    found = [
        f"{e['holder']} {e['registered_on']}" for e in prop["encumbrances"] if e["kind"] == kind
    ]
    return "；".join(found) or None


def cells(entry: dict[str, Any], *fields: str) -> list[Any]:
    return [entry[field] for field in fields]


def expected_rows(agency: str, record: dict[str, Any]) -> list[list[Any]]:
    """An agency's sheet's cells (after the person's three) for one found record."""
    if agency == "household":
        r = record
        place = cells(r, "ethnicity", "address", "household_head", "relation_to_head")
        return [[r["name"], SEX[r["sex"]], r["birth_date"], *place, "有", None]]
    if agency == "realestate":
        return [
            [
                *cells(p, "certificate_number", "address", "area_m2", "use"),
                OWNERSHIP[p["ownership"]],
                p["share"],
                *(burdens(p, kind) for kind in ("mortgage", "seal", "objection")),
            ]
            for p in record["properties"]
        ]
    if agency == "vehicle":
        return [
            [
                *cells(v, "plate", "vehicle_type", "brand_model", "vin_last6", "registered_on"),
                VEHICLE_STATUS[v["status"]],
            ]
            for v in record["vehicles"]
        ]
    if agency == "forestry":
        fields = ("certificate_number", "location", "area_mu", "species", "right_type")
        return [cells(c, *fields, "term_start", "term_end") for c in record["certificates"]]
    if agency == "subsidy":
        fields = ("township_code", "township", "year", "kind", "amount", "bank", "account")
        return [cells(p, *fields) for p in record["payments"]]
    r = record
    places = cells(r, "police_station", "registered_address", "last_known_address")
    return [[r["ack_number"], POLICE_STATUS[r["status"]], *places, r["last_seen_on"]]]


def check_summary(agency: str, record: dict[str, Any] | None, words: str) -> None:
    """The summary cell says what was found, in a few words, with counts."""
    if record is None:
        assert words == "未见"
    elif agency == "household":
        assert words == "已登记，有照片"
    elif agency == "realestate":
        n = len(record["properties"])
        held = [
            f"{word}{count}"
            for kind, word in (("mortgage", "抵押"), ("seal", "查封"), ("objection", "异议登记"))
            if (count := sum(burdens(p, kind) is not None for p in record["properties"]))
        ]
        assert words == f"{n}处" + (f"（{'，'.join(held)}）" if held else "")
    elif agency == "vehicle":
        vehicles = record["vehicles"]
        if len(vehicles) > 1:
            assert words == f"{len(vehicles)}辆"
        else:
            (v,) = vehicles
            status = "" if v["status"] == "normal" else " " + VEHICLE_STATUS[v["status"]]
            assert words == f"{v['plate']} {v['vehicle_type']}{status}"
    elif agency in ("forestry", "subsidy"):
        entries, field, unit = (
            (record["certificates"], "area_mu", "亩")
            if agency == "forestry"
            else (record["payments"], "amount", "元")
        )
        count, total, *rest = words.split(" ")
        assert count == f"{len(entries)}{'本' if agency == 'forestry' else '笔'}"
        assert float(total.removesuffix(unit).replace(",", "")) == pytest.approx(
            sum(e[field] for e in entries), abs=0.01
        )
        if agency == "subsidy":
            assert rest == [f"{len({p['account'] for p in entries})}个账户"]
    else:
        assert words == POLICE_STATUS[record["status"]]


async def finished(gateway: Gateway, people: list[tuple[str, str]] = PEOPLE) -> str:
    batch = await gateway.submit(batch_body(people))
    await gateway.wait_finished(batch["id"])
    return batch["id"]


async def download(
    gateway: Gateway, batch_id: str, fmt: str | None = None, team: str = "team-a", url: str = ""
) -> aiohttp.ClientResponse:
    params = {"format": fmt} if fmt else {}
    return await gateway.client.get(
        url or f"/v1/batches/{batch_id}/results",
        params=params,
        headers=await gateway.headers(team=team),
    )


def rows(sheet: Any) -> list[list[Any]]:
    """A sheet's cells below its header row."""
    return [[blank(v) for v in row] for row in sheet.iter_rows(min_row=2, values_only=True)]


def info_of(book: Any) -> dict[str, list[Any]]:
    """The 批次信息 sheet: its rows by their first cell."""
    sheet = book["批次信息"]
    return {row[0]: list(row[1:]) for row in sheet.iter_rows(values_only=True) if row[0]}


# ---------------------------------------------------------------- the workbook


async def test_the_workbook_shows_what_each_agency_holds_cell_by_cell(
    gateway: Gateway, mocks: Any
) -> None:
    batch_id = await finished(gateway)
    response = await download(gateway, batch_id, "xlsx")
    assert response.status == 200
    assert response.content_type == XLSX
    data = await response.read()
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["汇总", *(TITLES[a] for a in AGENCIES), "批次信息"]
    truth = {(i, a): mocks.truth(a, i, case_number=CASE) for _, i in PEOPLE for a in AGENCIES}

    summary = book["汇总"]
    assert next(summary.iter_rows(max_row=1, values_only=True)) == (
        "序号",
        "姓名/名称",
        "证件号码",
        *(TITLES[a] for a in AGENCIES),
    )
    assert len(rows(summary)) == len(PEOPLE)
    for number, ((name, id_number), row) in enumerate(zip(PEOPLE, rows(summary), strict=True)):
        assert row[:3] == [number + 1, name, id_number]
        for agency, words in zip(AGENCIES, row[3:], strict=True):
            check_summary(agency, truth[(id_number, agency)], words)

    for agency in AGENCIES:
        sheet = book[TITLES[agency]]
        assert sheet.freeze_panes == "D2"
        expected = [
            [number + 1, name, id_number, *cells]
            for number, (name, id_number) in enumerate(PEOPLE)
            if (record := truth[(id_number, agency)]) is not None
            for cells in expected_rows(agency, record)
        ]
        assert expected, f"the people chosen hold something at {agency}"
        assert rows(sheet) == expected, agency

    # every household photo embedded beside its person: the very image the registry holds
    household = book[TITLES["household"]]
    photos = {
        image.anchor._from.row + 1: hashlib.sha256(image._data()).hexdigest()
        for image in household._images
    }
    assert photos == {
        row: truth[(record[2], "household")]["photo"]["sha256"]
        for row, record in enumerate(rows(household), start=2)
    }
    assert {image.anchor._from.col for image in household._images} == {household.max_column - 1}

    info = info_of(book)
    assert info["案号"][0] == CASE and info["批次编号"][0] == batch_id
    # times as the court reads them: its own zone (GATEWAY_TIMEZONE, Asia/Shanghai by default)
    batch = await (
        await gateway.client.get(f"/v1/batches/{batch_id}", headers=await gateway.headers())
    ).json()
    submitted = datetime.fromisoformat(batch["created_at"]).astimezone(ZoneInfo("Asia/Shanghai"))
    assert info["提交时间"][0] == submitted.strftime("%Y-%m-%d %H:%M:%S +0800")
    for agency in AGENCIES:
        found = sum(truth[(i, agency)] is not None for _, i in PEOPLE)
        assert info[TITLES[agency]][:2] == [found, len(PEOPLE) - found]

    assert_no_formula(data)


def assert_no_formula(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        parts = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        assert parts and all(b"<f>" not in archive.read(n) for n in parts)
    book = load_workbook(io.BytesIO(data))
    assert [
        c.coordinate for s in book for row in s.iter_rows() for c in row if c.data_type == "f"
    ] == []
    assert book["汇总"]["B2"].value == FORMULA  # the officer's text, kept as text
    assert book["汇总"]["B2"].quotePrefix


async def test_results_xlsx_is_the_same_workbook_named_after_the_case(gateway: Gateway) -> None:
    batch_id = await finished(gateway, PEOPLE[:3])
    by_format = await download(gateway, batch_id, "xlsx")
    alias = await download(gateway, batch_id, url=f"/v1/batches/{batch_id}/results.xlsx")
    assert by_format.status == alias.status == 200
    first, second = [load_workbook(io.BytesIO(await r.read())) for r in (by_format, alias)]
    assert [rows(s) for s in first] == [rows(s) for s in second] != []
    disposition = by_format.headers["Content-Disposition"]
    assert disposition == (
        f'attachment; filename="results-{batch_id}.xlsx"; '
        f"filename*=UTF-8''{quote(CASE + '_查控结果.xlsx', safe='')}"
    )
    assert by_format.headers["Cache-Control"] == "no-store"


async def test_a_batch_not_yet_answered_or_cancelled_says_so(gateway_factory: Any) -> None:
    gateway = await gateway_factory(dispatch=False)  # nobody asks the agencies
    batch = await gateway.submit(batch_body(PEOPLE[:2], agencies=["vehicle", "police"]))
    book = load_workbook(io.BytesIO(await (await download(gateway, batch["id"], "xlsx")).read()))
    assert book.sheetnames == ["汇总", TITLES["vehicle"], TITLES["police"], "批次信息"]
    assert [r[3:] for r in rows(book["汇总"])] == [["查询中", "查询中"]] * 2
    assert rows(book[TITLES["vehicle"]]) == [] and rows(book[TITLES["police"]]) == []
    async with gateway.pool.acquire() as conn:  # as the worker leaves a failed attempt
        await conn.execute(
            "UPDATE inquiries SET last_error = 'police: timeout' WHERE agency = 'police'"
        )
    book = load_workbook(io.BytesIO(await (await download(gateway, batch["id"], "xlsx")).read()))
    assert [r[3:] for r in rows(book["汇总"])] == [["查询中", "待重试"]] * 2
    cancel = await gateway.client.post(
        f"/v1/batches/{batch['id']}/cancel", headers=await gateway.headers()
    )
    assert cancel.status == 200
    book = load_workbook(io.BytesIO(await (await download(gateway, batch["id"], "xlsx")).read()))
    assert [r[3:] for r in rows(book["汇总"])] == [["已取消", "已取消"]] * 2


async def test_an_agency_that_refused_is_named_as_failed(gateway: Gateway, mocks: Any) -> None:
    mocks.set_faults("vehicle", {"400": 1.0})  # a permanent refusal: failed at once
    batch = await gateway.submit(batch_body(PEOPLE[:3], agencies=["vehicle", "police"]))
    await gateway.wait_finished(batch["id"])
    book = load_workbook(io.BytesIO(await (await download(gateway, batch["id"], "xlsx")).read()))
    assert [r[3] for r in rows(book["汇总"])] == ["查询失败"] * 3
    assert rows(book[TITLES["vehicle"]]) == []
    assert info_of(book)[TITLES["vehicle"]][:3] == [0, 0, 3]


# ---------------------------------------------------------------- CSV, JSON Lines, photos


async def test_csv_is_one_row_per_result_for_excel(gateway: Gateway) -> None:
    batch_id = await finished(gateway)
    response = await download(gateway, batch_id, "csv")
    assert response.status == 200 and response.content_type == "text/csv"
    raw = await response.read()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads it as UTF-8
    header, *lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert header[:6] == ["序号", "姓名/名称", "证件号码", "查询单位", "状态", "结果摘要"]
    results = await gateway.all_results(batch_id)
    assert len(lines) == len(results) == len(PEOPLE) * len(AGENCIES)
    for line, result in zip(lines, results, strict=True):
        subject = result["subject"]
        name = "'" + subject["name"] if subject["name"] == FORMULA else subject["name"]
        assert line[:5] == [
            str(subject["row"] + 1),
            name,
            subject["id_number"],
            TITLES[result["agency"]],
            STATUS[result["status"]],
        ]
        assert line[6:10] == ["", str(result["attempts"]), result["completed_at"], ""]
        data = result["data"]
        if data is not None and result["agency"] == "household":
            data["photo"].pop("data_base64")  # the hash stays; the image is in the workbook
        assert (json.loads(line[10]) if line[10] else None) == data
        assert line[5]  # a few words for every result


async def test_jsonl_lines_are_the_json_apis_items(gateway: Gateway) -> None:
    batch_id = await finished(gateway, PEOPLE[:4])
    response = await download(gateway, batch_id, "jsonl")
    assert response.status == 200 and response.content_type == "application/x-ndjson"
    lines = (await response.read()).decode("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == await gateway.all_results(batch_id)


async def test_photos_come_as_a_zip_named_by_row(gateway: Gateway, mocks: Any) -> None:
    batch_id = await finished(gateway)
    response = await download(gateway, batch_id, "photos")
    assert response.status == 200 and response.content_type == "application/zip"
    with zipfile.ZipFile(io.BytesIO(await response.read())) as archive:
        photos = {n: hashlib.sha256(archive.read(n)).hexdigest() for n in archive.namelist()}
    expected = {
        f"{number + 1:06d}.png": record["photo"]["sha256"]
        for number, (_, id_number) in enumerate(PEOPLE)
        if (record := mocks.truth("household", id_number, case_number=CASE)) is not None
    }
    assert expected and photos == expected


# ---------------------------------------------------------------- refusals


async def test_another_teams_batch_and_an_unknown_one_are_404(gateway: Gateway) -> None:
    batch_id = await finished(gateway, PEOPLE[:1])
    unknown = "6f1c2b1e-8d1a-4c1e-9a53-1b2c3d4e5f60"
    for fmt in ("xlsx", "csv", "jsonl", "photos"):
        other = await download(gateway, batch_id, fmt, team="team-b")
        assert other.status == 404, fmt
        assert (await other.json())["error"]["code"] == "not_found"
        assert (await download(gateway, unknown, fmt)).status == 404
    alias = f"/v1/batches/{batch_id}/results.xlsx"
    assert (await download(gateway, batch_id, team="team-b", url=alias)).status == 404


async def test_an_unknown_format_is_422_naming_the_field(gateway: Gateway) -> None:
    batch_id = await finished(gateway, PEOPLE[:1])
    for query in ("format=pdf", "format=xlsx&format=csv", "format="):
        response = await gateway.client.get(
            f"/v1/batches/{batch_id}/results?{query}", headers=await gateway.headers()
        )
        assert response.status == 422, query
        (problem,) = (await response.json())["error"]["problems"]
        assert problem["field"] == "format" and problem["row"] is None
    plain = await download(gateway, batch_id)  # without format: the JSON page, as before
    assert plain.status == 200 and set(await plain.json()) == {"items", "next_cursor"}


async def test_a_stream_cut_short_is_not_taken_for_a_whole_file(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = await finished(gateway, PEOPLE[:3])
    monkeypatch.setattr(handlers, "EXPORT_PAGE", 2)
    real = views.results_page
    calls = 0

    async def failing(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise DatabaseUnavailable("gone")
        return await real(*args)

    monkeypatch.setattr(views, "results_page", failing)
    response = await download(gateway, batch_id, "jsonl")
    assert response.status == 200  # sent before the failure
    with pytest.raises(aiohttp.ClientPayloadError):
        await response.read()


# ---------------------------------------------------------------- without the server
