"""Debtor lists as officers keep them: CSV (UTF-8 with or without BOM, GB18030) and .xlsx, with
Chinese or English headings in any order; forgiving where the meaning is clear, every bad row
reported with the row the sheet shows (and as a workbook on request); repeated rows merged;
a 100,000-row file read as a stream."""

from __future__ import annotations

import csv
import io
import tempfile
import tracemalloc
from typing import Any

import aiohttp
from openpyxl import Workbook, load_workbook
from stdnum.cn import ric, uscc

from gateway.http.lists import read_csv
from mocks.population import sample_ids
from tests.conftest import CASE, Gateway
from tests.integration.api.test_validation import stored_counts
from tests.integration.ops.metrics_page import scrape

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: what `stdnum` itself says is a valid resident ID (a check character computed by it)
PEOPLE = [(n, i) for n, i in sample_ids(8, seed=41) if not i[0].isalpha()][:4]


def csv_bytes(rows: list[list[Any]], encoding: str = "utf-8-sig", delimiter: str = ",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def upload(
    gateway: Gateway, data: bytes, filename: str, accept: str = "application/json"
) -> aiohttp.ClientResponse:
    payload = aiohttp.FormData()
    payload.add_field("case_number", CASE)
    payload.add_field("reason", "批量查询")
    payload.add_field("agencies", "vehicle")
    payload.add_field("file", data, filename=filename)
    headers = {**await gateway.headers(), "Accept": accept}
    return await gateway.client.post("/v1/batches/upload", data=payload, headers=headers)


async def stored_people(gateway: Gateway, batch_id: str) -> list[tuple[str, str]]:
    await gateway.wait_finished(batch_id)
    results = await gateway.all_results(batch_id)
    return [(r["subject"]["name"], r["subject"]["id_number"]) for r in results]


async def test_csv_in_each_encoding_with_headings_in_any_order(gateway: Gateway) -> None:
    cases = {
        "utf-8 with BOM, Chinese": (
            csv_bytes(
                [["备注", "身份证号", "序号", "姓名"]]
                + [["", i, k, n] for k, (n, i) in enumerate(PEOPLE)]
            )
        ),
        "utf-8 without BOM, English": csv_bytes(
            [["id_number", "name"]] + [[i, n] for n, i in PEOPLE], encoding="utf-8"
        ),
        "GB18030 as Chinese Excel saves it": csv_bytes(
            [["被执行人", "公民身份号码", "住址"]] + [[n, i, "吉林省四平市"] for n, i in PEOPLE],
            encoding="gb18030",
        ),
        "tab-separated": csv_bytes(
            [["姓名", "证件号码"]] + [[n, i] for n, i in PEOPLE], delimiter="\t"
        ),
    }
    for label, data in cases.items():
        response = await upload(gateway, data, "debtors.csv")
        assert response.status == 202, (label, await response.text())
        created = await response.json()
        assert await stored_people(gateway, created["id"]) == PEOPLE, label


async def test_organisations_and_persons_in_one_workbook(gateway: Gateway) -> None:
    name, person = PEOPLE[0]
    stem = "91220300MA0Y4JQB4"  # a unified social credit code (GB 32100) ...
    code = stem + uscc.calc_check_digit(
        stem
    )  # (uscc's takes the first 17 characters)  # ... with the check character stdnum computes
    rows = [
        ["姓名", "身份证号", "单位名称", "统一社会信用代码"],
        [name, person, None, None],
        [None, None, "四平市某某建材有限公司", code],
    ]
    response = await upload(gateway, xlsx_bytes(rows), "list.xlsx")
    assert response.status == 202, await response.text()
    created = await response.json()
    assert await stored_people(gateway, created["id"]) == [
        (name, person),
        ("四平市某某建材有限公司", code),
    ]


async def test_forgiving_where_the_meaning_is_clear(gateway: Gateway) -> None:
    # a resident ID whose check character (computed by stdnum) is X, written with a small x
    # (stdnum's calc_check_digit takes the number with a placeholder check character)
    number = next(
        f"22030219650412{n:03d}X"
        for n in range(1000)
        if ric.calc_check_digit(f"22030219650412{n:03d}0") == "X"
    )
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in PEOPLE[1][1])  # ０-９ instead of 0-9
    rows = [
        ["姓名", "身份证号"],
        ["  张 三 ", " " + number[:6] + " " + number[6:-1] + "x "],
        ["李　四", full_width],
    ]
    response = await upload(gateway, csv_bytes(rows), "list.csv")
    assert response.status == 202, await response.text()
    created = await response.json()
    assert await stored_people(gateway, created["id"]) == [("张三", number), ("李四", PEOPLE[1][1])]


async def test_repeated_rows_are_asked_once_and_a_name_clash_is_a_problem(
    gateway: Gateway,
) -> None:
    (a, a_id), (b, b_id) = PEOPLE[0], PEOPLE[1]
    rows = [["姓名", "身份证号"], [a, a_id], [a, a_id], [b, b_id], [" " + a, a_id.lower()]]
    response = await upload(gateway, csv_bytes(rows), "list.csv")
    assert response.status == 202, await response.text()
    created = await response.json()
    assert (created["subject_count"], created["merged_rows"]) == (2, 2)
    await gateway.wait_finished(created["id"])
    results = await gateway.all_results(created["id"])
    # Each person keeps the row of the list where it first stands: B is the list's third.
    assert [(r["subject"]["row"], r["subject"]["name"]) for r in results] == [(0, a), (2, b)]

    clash = [["姓名", "身份证号"], [a, a_id], [b, b_id], [b, a_id]]
    before = await stored_counts(gateway)
    refused = await upload(gateway, csv_bytes(clash), "list.csv")
    assert refused.status == 422
    [problem] = (await refused.json())["error"]["problems"]
    assert (problem["sheet_row"], problem["field"]) == (4, "name")
    assert problem["problem"] == "has the identifier of row 2 under another name"  # as shown
    assert a_id not in problem["problem"] and b not in problem["problem"]
    assert await stored_counts(gateway) == before


async def test_ids_excel_made_numbers_are_reported_with_every_other_problem(
    gateway: Gateway,
) -> None:
    rows: list[list[Any]] = [
        ["ID", "姓名", "身份证号"],  # "ID" a serial column: the 身份证号 column is the ID
        [1, PEOPLE[0][0], int(PEOPLE[0][1][:15])],  # what Excel keeps of a number
        [2, "", PEOPLE[1][1]],
        [3, PEOPLE[2][0], PEOPLE[2][1]],
    ]
    before = await stored_counts(gateway)
    response = await upload(gateway, xlsx_bytes(rows), "list.xlsx")
    assert response.status == 422
    problems = (await response.json())["error"]["problems"]
    assert [(p["sheet_row"], p["field"]) for p in problems] == [(2, "id_number"), (3, "name")]
    assert "15 digits" in problems[0]["problem"]
    assert await stored_counts(gateway) == before


async def test_a_csv_field_beyond_any_name_is_refused_not_a_server_error(
    gateway: Gateway,
) -> None:
    for rows in (
        [["姓名" + "x" * 200_000, "身份证号"]],
        [["姓名", "身份证号"], ["x" * 200_000, "1"]],
    ):
        response = await upload(gateway, csv_bytes(rows), "list.csv")
        assert response.status == 422
        assert (await response.json())["error"]["problems"][0]["field"] == "file"


async def test_every_bad_row_is_reported_as_the_sheet_shows_it(gateway: Gateway) -> None:
    good = PEOPLE[0]
    rows = [
        ["序号", "姓名", "身份证号"],
        [1, *good],
        [2, "王五", good[1][:-1] + ("0" if good[1][-1] != "0" else "1")],  # check character
        [],  # blank: skipped, but rows below keep the numbers the sheet shows
        [3, "", PEOPLE[1][1]],
        [4, "赵六", "12345"],
    ]
    before = await stored_counts(gateway)
    response = await upload(gateway, csv_bytes(rows), "list.csv")
    assert response.status == 422
    problems = (await response.json())["error"]["problems"]
    assert {(p["sheet_row"], p["field"]) for p in problems} == {
        (3, "id_number"),
        (5, "name"),
        (6, "id_number"),
    }
    assert await stored_counts(gateway) == before  # nothing stored

    # The same report as a workbook, for whoever keeps the list.
    report = await upload(gateway, csv_bytes(rows), "list.csv", accept=XLSX)
    assert report.status == 422
    assert report.headers["Content-Type"].startswith(XLSX)
    sheet = load_workbook(io.BytesIO(await report.read())).active
    table = [[c.value for c in row] for row in sheet.iter_rows()]
    assert table[0] == ["表格行号", "字段", "问题"]
    assert sorted((r[0], r[1]) for r in table[1:]) == [
        ("3", "id_number"),
        ("5", "name"),
        ("6", "id_number"),
    ]
    assert await stored_counts(gateway) == before


async def test_a_file_without_named_columns_is_refused(gateway: Gateway) -> None:
    cases = (
        (csv_bytes([["a", "b"], ["x", "y"]]), "list.csv"),
        (b"\x00\x01binary\xff\xfe", "list.csv"),
        (xlsx_bytes([["甲", "乙"]]), "list.xlsx"),
    )
    for data, name in cases:
        response = await upload(gateway, data, name)
        assert response.status == 422, name
        [problem] = (await response.json())["error"]["problems"]
        assert problem["field"] == "file"
    # Counted as refused submissions, as refusals of their rows are.
    refused = (await scrape(gateway)).value(
        "gateway_batches_rejected_total", reason="validation_failed"
    )
    assert refused == len(cases)


def test_a_large_csv_is_read_as_a_stream() -> None:
    """100,000 rows: what the reader holds beyond the subjects it returns stays far below the
    file's size (a reader that read the file whole would hold all of it at once)."""
    people = sample_ids(2_000, seed=42)
    rows = [["姓名", "身份证号"]] + [list(people[k % len(people)]) for k in range(100_000)]
    with tempfile.TemporaryFile() as file:
        file.write(csv_bytes(rows))
        size = file.tell()
        file.seek(0)
        tracemalloc.start()
        try:
            read = read_csv(file, max_subjects=100_000)
            kept, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert len(read.subjects) == 100_000 and read.sheet_rows[-1] == 100_001
    assert peak - kept < size / 10, (peak, kept, size)
