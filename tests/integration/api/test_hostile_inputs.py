"""Hostile input, one finding a test: lone surrogates, raw bytes in headers, deep nesting,
huge numbers, forged cursors and limits, CSV cells; and SQL only as named queries.
Every answer is a clear JSON 4xx that changes nothing, never a 500.
"""

from __future__ import annotations

import ast
import gzip
import json
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from gateway.core.identifiers import InvalidCaseNumber, parse_case_number
from gateway.store import _sql as queries
from gateway.store._sql import sql
from mocks.population import sample_ids
from tests.conftest import Gateway, batch_body
from tests.integration.api.hostile import (
    DEEP,
    NOT_ALLOWED,
    SOME_UUID,
    b64,
    post_json_text,
    problem_of,
    raw_http,
    stored_batches,
)

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


# ---------------------------------------------------------------- compressed and broken bodies


async def test_a_compressed_body_is_415_and_the_connection_closes(
    api: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    token = (await api.headers())["Authorization"].encode()
    batch = json.dumps(batch_body(n=1)).encode()
    # (Content-Encoding, body, bytes the head announces): the last body stops short of them
    sent = [
        (b"gzip", gzip.compress(batch), None),  # well formed, and still not taken
        (b"gzip", b"not gzip at all", None),
        (b"identity\r\nContent-Encoding: gzip", gzip.compress(batch), None),  # the last counts
        (b"deflate", zlib.compress(batch)[:-4], 10_000),  # the rest never comes: not waited for
    ]
    for encoding, body, announced in sent:
        length = str(announced or len(body)).encode()
        status, headers, answer = await raw_http(
            api,
            b"POST /v1/batches HTTP/1.1\r\nHost: x\r\nAuthorization: " + token + b"\r\n"
            b"Content-Type: application/json\r\nContent-Encoding: " + encoding + b"\r\n"
            b"Content-Length: " + length + b"\r\n\r\n" + body,
        )
        assert status == 415, (encoding, answer)
        assert "Content-Encoding" in json.loads(answer)["error"]["message"]
        assert headers["connection"] == "close" and len(headers["x-request-id"]) == 32
    assert await stored_batches(api) == 0
    assert [r.message for r in caplog.records if r.levelname == "ERROR"] == []


async def test_a_body_with_broken_chunks_is_400(api: Gateway) -> None:
    """aiohttp's own parser answers this (in plain text) before the gateway sees it."""
    token = (await api.headers())["Authorization"].encode()
    status, _headers, answer = await raw_http(
        api,
        b"POST /v1/batches HTTP/1.1\r\nHost: x\r\nAuthorization: " + token + b"\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5\r\n{"a":\r\nzz\r\n1}\r\n0\r\n\r\n',
    )
    assert status == 400, answer
    assert await stored_batches(api) == 0
