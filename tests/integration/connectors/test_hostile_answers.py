"""Hostile agency answers (nesting past the parser's recursion limit, NaN and Infinity, lone
surrogates) are AgencyBadAnswer like any other malformed answer, never another exception."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from connectors import _shape
from connectors.base import Response
from connectors.errors import AgencyBadAnswer
from connectors.registry import connector_classes
from tests.integration.connectors.conftest import REQUESTER, answer, fake_agency, subject
from tests.integration.connectors.test_shapes import ID, NAME, PERSON, PHOTO, PROPERTY, realestate

JSON = {"Content-Type": "application/json"}
DEEP = b"[" * 100_000 + b"]" * 100_000


def test_json_nested_past_the_recursion_limit_is_a_bad_answer() -> None:
    with pytest.raises(AgencyBadAnswer, match="nested too deeply"):
        Response(200, JSON, DEEP).json("household")
    with pytest.raises(AgencyBadAnswer):
        Response(200, JSON, b'{"a":' * 100_000 + b"1" + b"}" * 100_000).json("household")


#: bodies the fast parser refuses, and ordinary ones: every one must read as the standard
#: library reads it (the meaning agencies' answers always had)
AS_EVER = {
    "ordinary": '{"xm": "张三", "area": 80.5, "n": 3, "ok": true, "none": null}'.encode(),
    "largest 64-bit integers": b"[18446744073709551615, -9223372036854775808]",
    "20 digits in a string": b'{"account": "62284800000000000001"}',
    "NaN and Infinity": b'{"area": NaN, "share": -Infinity}',
    "lone surrogate escaped": b'{"xm": "\\ud800"}',
    "UTF-16": '{"xm": "张三"}'.encode("utf-16"),
}


@pytest.mark.parametrize("body", AS_EVER.values(), ids=AS_EVER.keys())
def test_an_answer_reads_as_the_standard_library_reads_it(body: bytes) -> None:
    parsed = Response(200, JSON, body).json("household")
    assert repr(parsed) == repr(json.loads(body))  # values and types (NaN is not == NaN)


def test_an_integer_past_64_bits_is_no_integer_field() -> None:
    """No agency field holds one: it reads as a float, and an integer field refuses it."""
    for body in (b'{"page": 18446744073709551616}', b'{"page": -9223372036854775809}'):
        with pytest.raises(_shape.ShapeError, match="'page' is not an integer"):
            _shape.integer(Response(200, JSON, body).json("subsidy"), "page")
    top = Response(200, JSON, b'{"page": 18446744073709551615}').json("subsidy")
    assert _shape.integer(top, "page") == 2**64 - 1


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), 10**400])
def test_a_number_that_is_not_finite_is_a_shape_error(value: Any) -> None:
    with pytest.raises(_shape.ShapeError, match="'area' is not a finite number"):
        _shape.number({"area": value}, "area")
    assert _shape.number({"area": 80}, "area") == 80.0


def test_text_with_a_lone_surrogate_is_a_shape_error() -> None:
    for read in (_shape.text, _shape.optional_text):
        with pytest.raises(_shape.ShapeError, match="'xm' is not valid Unicode text"):
            read({"xm": "张\ud800"}, "xm")
    assert _shape.text({"xm": " 张三 "}, "xm") == "张三"


def escaped(body: Any) -> bytes:
    """JSON as a client library writes it: NaN as NaN, a lone surrogate as \\ud800."""
    return json.dumps(body).encode()


def household(person: Any) -> list[Any]:
    return [
        ("POST", "/v1/identity", answer(escaped({"result": "found", "data": person}))),
        ("GET", "/v1/photos/{ref}", answer(PHOTO, content_type="image/png")),
    ]


def complete(prop: Any) -> list[Any]:
    return realestate(escaped({"state": "complete", "properties": [prop]}))


HOSTILE: dict[str, tuple[str, list[Any]]] = {
    "household: deep nesting": ("household", [("POST", "/v1/identity", answer(DEEP))]),
    "household: lone surrogate in the name": (
        "household",
        household({**PERSON, "xm": "\ud800"}),
    ),
    "household: lone surrogate in the address": (
        "household",
        household({**PERSON, "hjdz": "吉林省\udfff"}),
    ),
    "realestate: area NaN": ("realestate", complete({**PROPERTY, "area": float("nan")})),
    "realestate: area Infinity": ("realestate", complete({**PROPERTY, "area": float("inf")})),
    "realestate: area of 400 digits": ("realestate", complete({**PROPERTY, "area": 10**400})),
    "realestate: share with a lone surrogate": (
        "realestate",
        complete({**PROPERTY, "share": "\ud800"}),
    ),
    "realestate: deep nesting while polling": (
        "realestate",
        [
            ("POST", "/v1/inquiries", answer({"ticket": "T1"}, status=202)),
            ("GET", "/v1/inquiries/{ticket}", answer(DEEP)),
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_a_hostile_answer_is_a_bad_answer(case: str, http: aiohttp.ClientSession) -> None:
    agency, routes = HOSTILE[case]
    async with fake_agency(routes) as url:
        connector = connector_classes()[agency](session=http, base_url=url, timeout=5.0)
        with pytest.raises(AgencyBadAnswer) as caught:
            await connector.query([subject(NAME, ID)], REQUESTER)
    message = str(caught.value)
    assert ID not in message and NAME not in message
    assert message.startswith(f"{agency}: ")
