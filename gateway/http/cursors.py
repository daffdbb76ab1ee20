"""Cursors for keyset pagination.

A cursor is URL-safe base64 (unpadded) of printable text this API wrote: a name, an id, or
"time|id". Decoding checks everything the database will be given, so a forged cursor is a
400 (422 in the audit API) and never reaches PostgreSQL out of range.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from gateway.core.errors import BadRequest
from gateway.http.models.fields import checked_time

T = TypeVar("T")

#: ids in cursors are PostgreSQL bigints
MAX_ID = 2**63 - 1
BAD_CURSOR = "is not a cursor this API returned"


def encode(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def text_of(value: str) -> str:
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


def of_id(ident: int, prefix: str = "") -> str:
    return encode(f"{prefix}{ident}")


def id_of(value: str, prefix: str = "") -> int:
    text = text_of(value)
    if not text.startswith(prefix):
        raise ValueError(BAD_CURSOR)
    return parse_id(text[len(prefix) :])


def of_time(at: datetime, ident: object) -> str:
    """A keyset cursor of (time, id); the id is an integer or a UUID."""
    return encode(f"{at.isoformat()}|{ident}")


def time_of(value: str, ident: Callable[[str], T]) -> tuple[datetime, T]:
    """(time, id) from ``of_time``; ``ident`` parses the id (``parse_id``, ``parse_uuid``)."""
    stamp, _, rest = text_of(value).partition("|")
    try:
        at = checked_time(datetime.fromisoformat(stamp))
    except ValueError:
        raise ValueError(BAD_CURSOR) from None
    return at, ident(rest)


def parse(value: str | None, parser: Callable[[str], T]) -> T | None:
    """A cursor parsed by ``parser``; none (or empty) is None; 400 naming the field if it is
    not one this API wrote."""
    if not value:
        return None
    try:
        return parser(value)
    except ValueError as exc:
        raise BadRequest("the cursor is not valid", field="cursor") from exc
