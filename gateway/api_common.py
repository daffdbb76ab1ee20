"""Request parsing shared by the administration and command-centre handlers: JSON objects
with known fields only, pages, cursors and times, each failure a JSON 4xx naming the field."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from gateway.errors import BadRequest, PayloadTooLarge, ValidationFailed
from gateway.state import SETTINGS

MAX_PAGE = 500
MIN_YEAR, MAX_YEAR = 1990, 9000


def problem(field: str, text: str) -> ValidationFailed:
    return ValidationFailed([{"row": None, "field": field, "problem": text}])


async def read_body(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        limit = request.app[SETTINGS].max_body_bytes
        raise PayloadTooLarge(f"the body is larger than {limit} bytes") from exc


async def read_object(
    request: web.Request, fields: frozenset[str], *, optional: bool = False
) -> dict[str, Any]:
    """The body as a JSON object holding only ``fields``; with ``optional``, no body is {}."""
    raw = await read_body(request)
    if not raw.strip():
        if optional:
            return {}
        raise BadRequest("the body is empty; a JSON object is expected")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("the body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise problem("(body)", "must be a JSON object")
    unknown = sorted(set(body) - fields)
    if unknown:
        raise ValidationFailed(
            [{"row": None, "field": key, "problem": "is not a known field"} for key in unknown]
        )
    return body


def optional_text(body: dict[str, Any], field: str, limit: int = 2000) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise problem(field, "must be a non-empty string when given")
    if len(value) > limit or any(ord(ch) < 32 for ch in value):
        raise problem(field, f"must be at most {limit} characters, without control characters")
    return value.strip()


def limit(request: web.Request, default: int = 100) -> int:
    value = request.query.get("limit")
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_PAGE:
        raise problem("limit", f"must be 1 to {MAX_PAGE}")
    return int(value)


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(value: str) -> str:
    try:
        padded = value + "=" * (-len(value) % 4)
        raw = base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)
        text = raw.decode("utf-8")
        if not text or not text.isprintable():
            raise ValueError("empty or unprintable cursor")
        return text
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise BadRequest("the cursor is not valid", field="cursor") from exc


def query_text(request: web.Request, name: str, limit: int = 200) -> str | None:
    value = request.query.get(name)
    if value is None:
        return None
    if not value or len(value) > limit or not value.isprintable():
        raise problem(name, f"must be 1 to {limit} printable characters")
    return value


def query_time(request: web.Request, name: str) -> datetime | None:
    """An ISO 8601 time; a date or a time without offset is local (GATEWAY_TIMEZONE)."""
    value = request.query.get(name)
    if value is None:
        return None
    tz = ZoneInfo(request.app[SETTINGS].timezone)
    try:
        if len(value) == 10:
            moment = datetime.combine(date.fromisoformat(value), time(), tz)
        else:
            moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        # Years the database and the UTC conversion can hold, and sensible for this system.
        if not MIN_YEAR <= moment.astimezone(UTC).year <= MAX_YEAR:
            raise ValueError("out of range")
    except (ValueError, OverflowError) as exc:
        raise problem(name, "must be an ISO 8601 date or time, e.g. 2026-03-01") from exc
    return moment


def cursor_parts(request: web.Request) -> tuple[datetime, int] | None:
    """A keyset cursor of (time, id), as written by ``time_cursor``."""
    if "cursor" not in request.query:
        return None
    stamp, _, ident = decode_cursor(request.query["cursor"]).partition("|")
    try:
        at = datetime.fromisoformat(stamp)
        if at.tzinfo is None or not (ident.isascii() and ident.isdigit()) or len(ident) > 18:
            raise ValueError("bad cursor")
    except ValueError as exc:
        raise BadRequest("the cursor is not valid", field="cursor") from exc
    return at, int(ident)


def time_cursor(at: datetime, ident: int) -> str:
    return encode_cursor(f"{at.isoformat()}|{ident}")


def page(items: list[dict[str, Any]], next_cursor: str | None) -> web.Response:
    return web.json_response({"items": items, "next_cursor": next_cursor})
