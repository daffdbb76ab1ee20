"""Narrowing JSON values whose shape is not yet known (a body before validation, an agency
record, a schema being walked) to typed containers."""

from __future__ import annotations

from typing import Any, cast


def as_object(value: object) -> dict[str, Any] | None:
    """``value`` if it is a JSON object (keys are strings in JSON), else None."""
    return cast(dict[str, Any], value) if isinstance(value, dict) else None


def as_list(value: object) -> list[Any] | None:
    """``value`` if it is a JSON array, else None."""
    return cast(list[Any], value) if isinstance(value, list) else None
