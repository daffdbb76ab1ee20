"""The layout's rules that no linter checks: SQL only in the storage package, every named
query used and every used query named."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from gateway.store import _sql

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = ROOT / "gateway"
STORE = GATEWAY / "store"
#: a statement, as SQL text in a string literal would hold one
_SQL = re.compile(
    r"\b(SELECT\b.*\bFROM|INSERT\s+INTO|UPDATE\b.*\bSET|DELETE\s+FROM|CREATE\s+TABLE|"
    r"ALTER\s+TABLE|DROP\s+TABLE|pg_notify|pg_advisory)",
    re.IGNORECASE | re.DOTALL,
)


_RUNS_A_QUERY = frozenset({"fetch", "fetchrow", "fetchval", "execute", "executemany", "stream"})


def _strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_no_sql_outside_the_storage_package() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted(GATEWAY.rglob("*.py"))
        if STORE not in path.parents
        for line, text in _strings(path)
        if _SQL.search(text)
    ]
    assert offenders == []
    assert sorted(p.relative_to(ROOT).as_posix() for p in GATEWAY.rglob("*.sql")) == sorted(
        p.relative_to(ROOT).as_posix() for p in STORE.rglob("*.sql")
    )


def test_the_checker_finds_sql_in_a_string(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('"""Module."""\nQUERY = "SELECT id FROM batches WHERE id = $1"\n')
    assert [line for line, text in _strings(sample) if _SQL.search(text)] == [2]


def test_every_named_query_is_used_and_every_used_one_exists() -> None:
    used: set[str] = set()
    for path in STORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "_run"
                and node.func.attr in _RUNS_A_QUERY
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
            ):
                used.add(node.args[1].value)
    assert used - set(_sql.names()) == set(), "queries used but not defined"
    assert set(_sql.names()) - used == set(), "queries defined but never used"
