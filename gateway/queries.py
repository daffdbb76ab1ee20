"""Named SQL queries, loaded once from ``sql/queries.sql``."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@cache
def _load() -> dict[str, str]:
    text = (Path(__file__).parent / "sql" / "queries.sql").read_text(encoding="utf-8")
    parts = _NAME.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def sql(name: str) -> str:
    """The text of one named query; a KeyError names a query that does not exist."""
    return _load()[name]


def names() -> list[str]:
    return sorted(_load())
