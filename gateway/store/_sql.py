"""Named SQL queries, loaded once from the ``.sql`` files in ``sql/`` (not migrations).

Each query starts with ``-- name: <name>``; names are unique across all files."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@cache
def _load() -> dict[str, str]:
    queries: dict[str, str] = {}
    for path in sorted((Path(__file__).parent / "sql").glob("*.sql")):
        parts = _NAME.split(path.read_text(encoding="utf-8"))
        # parts = [preamble, name1, body1, name2, body2, ...]
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            if name in queries:
                raise RuntimeError(f"query {name!r} is defined twice (again in {path.name})")
            queries[name] = body.strip()
    return queries


def sql(name: str) -> str:
    """The text of one named query; a KeyError names a query that does not exist."""
    return _load()[name]


def names() -> list[str]:
    return sorted(_load())
