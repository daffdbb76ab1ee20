"""Request parsing shared by every handler: JSON bodies, pages, cursors and times, each
failure a JSON 4xx naming the field (never a 500, whatever the client sends)."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from aiohttp import web

from gateway.core.errors import BadRequest, NotFound, PayloadTooLarge, ValidationFailed
from gateway.core.text import NOT_ALLOWED, has_disallowed_characters
from gateway.http.keys import SETTINGS

T = TypeVar("T")

MAX_PAGE = 500
#: years a time in a query or a cursor may have (in UTC): PostgreSQL and the UTC conversion
#: hold them all, and they are sensible for this system
MIN_YEAR, MAX_YEAR = 1990, 9000
#: ids in cursors are PostgreSQL bigints
MAX_ID = 2**63 - 1
BAD_CURSOR = "is not a cursor this API returned"


def problem(field: str, text: str) -> ValidationFailed:
    return ValidationFailed([{"row": None, "field": field, "problem": text}])


async def read_body(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        limit = request.app[SETTINGS].max_body_bytes
        raise PayloadTooLarge(f"the body is larger than {limit} bytes") from exc


async def read_json(request: web.Request) -> Any:
    """The body as parsed JSON: 413 over the size limit, 400 if empty, not JSON or nested
    deeper than the parser can follow."""
    raw = await read_body(request)
    if not raw.strip():
        raise BadRequest("the body is empty; a JSON object is expected")
    try:
        return json.loads(raw)
    except RecursionError as exc:
        raise BadRequest("the body is nested too deeply") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("the body is not valid JSON") from exc


async def read_object(
    request: web.Request, fields: frozenset[str], *, optional: bool = False
) -> dict[str, Any]:
    """The body as a JSON object holding only ``fields``; with ``optional``, no body is {}."""
    if optional and not (await read_body(request)).strip():
        return {}
    body = await read_json(request)
    if not isinstance(body, dict):
        raise problem("(body)", "must be a JSON object")
    unknown = sorted(set(body) - fields)
    if unknown:
        raise ValidationFailed(
            [
                {"row": None, "field": _shown(key), "problem": "is not a known field"}
                for key in unknown
            ]
        )
    return body


def _shown(key: str) -> str:
    """An unknown field's name, unless it could not be a field name (it may be anything)."""
    if len(key) > 40 or not key.isprintable():
        return "(unknown)"
    return key


def optional_text(body: dict[str, Any], field: str, limit: int = 2000) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise problem(field, "must be a non-empty string when given")
    if len(value) > limit:
        raise problem(field, f"must be at most {limit} characters")
    if has_disallowed_characters(value):
        raise problem(field, NOT_ALLOWED)
    return value.strip()


def parse_limit(value: str) -> int:
    """A page size, 1 to ``MAX_PAGE``; ValueError otherwise."""
    # isascii: "²".isdigit() is true, but int("²") fails; len: int() of 5,000 digits fails.
    if not (value.isascii() and value.isdigit() and len(value) <= 3) or not (
        1 <= int(value) <= MAX_PAGE
    ):
        raise ValueError(f"must be 1 to {MAX_PAGE}")
    return int(value)


def limit(request: web.Request, default: int = 100) -> int:
    value = request.query.get("limit")
    if value is None:
        return default
    try:
        return parse_limit(value)
    except ValueError as exc:
        raise problem("limit", str(exc)) from None


# ---------------------------------------------------------------- cursors
#
# A cursor is URL-safe base64 (unpadded) of printable text this API wrote: a name, an id, or
# "time|id". Decoding checks everything the database will be given, so a forged cursor is a
# 400 (422 in the audit API) and never reaches PostgreSQL out of range.


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def cursor_text(value: str) -> str:
    """The text inside a cursor; ValueError if it is not one this API could have written."""
    try:
        padded = value + "=" * (-len(value) % 4)
        text = base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise ValueError(BAD_CURSOR) from None
    if not text or not text.isprintable():
        raise ValueError(BAD_CURSOR)
    return text


def parse_id(text: str) -> int:
    """An id held in a cursor: ASCII digits, 1 to 2**63-1 (a bigint); ValueError otherwise."""
    if not (text.isascii() and text.isdigit() and len(text) <= 19) or not 1 <= int(text) <= MAX_ID:
        raise ValueError(BAD_CURSOR)
    return int(text)


def parse_uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise ValueError(BAD_CURSOR) from None


def id_cursor(ident: int, prefix: str = "") -> str:
    return encode_cursor(f"{prefix}{ident}")


def parse_id_cursor(value: str, prefix: str = "") -> int:
    text = cursor_text(value)
    if not text.startswith(prefix):
        raise ValueError(BAD_CURSOR)
    return parse_id(text[len(prefix) :])


def time_cursor(at: datetime, ident: object) -> str:
    """A keyset cursor of (time, id); the id is an integer or a UUID."""
    return encode_cursor(f"{at.isoformat()}|{ident}")


def parse_time_cursor(value: str, ident: Callable[[str], T]) -> tuple[datetime, T]:
    """(time, id) from ``time_cursor``; ``ident`` parses the id (``parse_id``, ``parse_uuid``)."""
    stamp, _, rest = cursor_text(value).partition("|")
    try:
        at = checked_time(datetime.fromisoformat(stamp))
    except ValueError:
        raise ValueError(BAD_CURSOR) from None
    return at, ident(rest)


def parse_cursor(value: str, parse: Callable[[str], T]) -> T:
    """A cursor parsed by ``parse`` (``cursor_text``, ``parse_id_cursor``, ...); 400 naming
    the field if it is not one this API wrote."""
    try:
        return parse(value)
    except ValueError as exc:
        raise BadRequest("the cursor is not valid", field="cursor") from exc


def cursor(request: web.Request, parse: Callable[[str], T]) -> T | None:
    """The ``cursor`` query parameter parsed by ``parse``; none (or empty) is None."""
    value = request.query.get("cursor")
    return parse_cursor(value, parse) if value else None


def decode_cursor(value: str) -> str:
    """The text of a cursor (a name, a case number); 400 naming the field if bad."""
    return parse_cursor(value, cursor_text)


def cursor_parts(request: web.Request) -> tuple[datetime, int] | None:
    """A keyset cursor of (time, integer id), as written by ``time_cursor``."""
    return cursor(request, lambda value: parse_time_cursor(value, parse_id))


# ---------------------------------------------------------------- query parameters


def query_text(request: web.Request, name: str, limit: int = 200) -> str | None:
    value = request.query.get(name)
    if value is None:
        return None
    if not value or len(value) > limit or not value.isprintable():
        raise problem(name, f"must be 1 to {limit} printable characters")
    return value


def checked_time(moment: datetime) -> datetime:
    """A time with an offset whose year in UTC is MIN_YEAR..MAX_YEAR; ValueError otherwise."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("has no UTC offset")
    try:
        year = moment.astimezone(UTC).year
    except OverflowError:  # e.g. 9999-12-31T23:59:59-14:00 is after year 9999 in UTC
        raise ValueError("is out of range") from None
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError("is out of range")
    return moment


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
        checked_time(moment)
    except (ValueError, OverflowError) as exc:
        raise problem(name, "must be an ISO 8601 date or time, e.g. 2026-03-01") from exc
    return moment


def batch_id(request: web.Request) -> uuid.UUID:
    """The ``{batch_id}`` path segment; one that is not a UUID cannot be a batch (404)."""
    try:
        return uuid.UUID(request.match_info["batch_id"])
    except ValueError as exc:
        # Answer exactly as for a batch that does not exist.
        raise NotFound("no such batch") from exc


def page(items: list[dict[str, Any]], next_cursor: str | None) -> web.Response:
    return web.json_response({"items": items, "next_cursor": next_cursor})
