"""Small typed readers for agency answers.

Agency answers are untrusted: a field may be missing, of the wrong type or nonsense. These
readers check each value and raise ``ShapeError`` naming only the *field*, never the value
(values are personal data). ``answer_shape`` turns any such problem into ``AgencyBadAnswer``
at the connector boundary.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from datetime import date
from typing import Any, TypeVar, cast

from connectors.errors import AgencyBadAnswer

T = TypeVar("T")


class ShapeError(ValueError):
    """An answer is wrongly shaped; the message names fields only, never values."""


@contextmanager
def answer_shape(agency: str) -> Generator[None, None, None]:
    """Translate every parse problem inside the block into ``AgencyBadAnswer``."""
    try:
        yield
    except ShapeError as exc:
        raise AgencyBadAnswer(agency, f"unexpected answer: {exc}") from exc
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        # Library messages may echo the offending value, so name only the exception type.
        raise AgencyBadAnswer(agency, f"unexpected answer ({type(exc).__name__})") from exc


def obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ShapeError(f"{where} is not an object")
    return cast("Mapping[str, Any]", value)  # keys are read with str keys only


def _get(data: Mapping[str, Any], key: str) -> Any:
    if key not in data:
        raise ShapeError(f"field {key!r} is missing")
    return data[key]


def _unicode(value: str, key: str) -> str:
    """A JSON string may hold a lone surrogate ("\\ud800"): not text, and it cannot be stored,
    logged or encrypted (all UTF-8)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ShapeError(f"field {key!r} is not valid Unicode text") from None
    return value


def text(data: Mapping[str, Any], key: str) -> str:
    value = _get(data, key)
    if not isinstance(value, str) or not value.strip():
        raise ShapeError(f"field {key!r} is not a non-empty string")
    return _unicode(value, key).strip()


def optional_text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ShapeError(f"field {key!r} is not a string")
    return _unicode(value, key).strip() or None


def number(data: Mapping[str, Any], key: str) -> float:
    value = _get(data, key)
    # bool is an int subclass; a True area is nonsense, not 1.0.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ShapeError(f"field {key!r} is not a number")
    try:
        result = float(value)
    except OverflowError:  # an integer of 400 digits
        raise ShapeError(f"field {key!r} is not a finite number") from None
    # Python's JSON reads NaN and Infinity; no agency means them, and JSON cannot hold them.
    if not math.isfinite(result):
        raise ShapeError(f"field {key!r} is not a finite number")
    return result


def integer(data: Mapping[str, Any], key: str) -> int:
    value = _get(data, key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ShapeError(f"field {key!r} is not an integer")
    return value


def array(data: Mapping[str, Any], key: str) -> list[Any]:
    value = _get(data, key)
    if not isinstance(value, list):
        raise ShapeError(f"field {key!r} is not a list")
    return cast("list[Any]", value)


def iso_date(value: str, key: str) -> str:
    """``2019-05-01`` or ``20190501`` -> ``2019-05-01``; anything else is a shape error."""
    compact = value.replace("-", "")
    if len(compact) != 8 or not compact.isdigit():
        raise ShapeError(f"field {key!r} is not a date")
    try:
        return date(int(compact[:4]), int(compact[4:6]), int(compact[6:])).isoformat()
    except ValueError as exc:
        raise ShapeError(f"field {key!r} is not a valid date") from exc


def coded(value: str, key: str, codes: Mapping[str, T]) -> T:
    """Map an agency code onto our vocabulary; an unknown code is a shape error."""
    if value not in codes:
        raise ShapeError(f"field {key!r} has an unknown code")
    return codes[value]
