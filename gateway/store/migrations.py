"""Numbered SQL migrations (``sql/migrations/NNNN_name.sql``), applied in order, each exactly
once, under an advisory lock, so replicas starting together migrate once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from gateway.core.errors import ConfigurationError
from gateway.store import _run
from gateway.store._run import Connection

_FILE = re.compile(r"^(\d{4})_(\w+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    folder = Path(__file__).parent / "sql" / "migrations"
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


async def migrate(conn: Connection) -> list[Migration]:
    """Apply what is missing; returns the migrations applied now. Safe to run concurrently."""
    applied_now: list[Migration] = []
    async with _run.transaction(conn):
        await _run.execute(conn, "migrations_lock")
        await _run.execute(conn, "migrations_table")
        done = {r["version"] for r in await _run.fetch(conn, "migrations_applied")}
        for migration in available():
            if migration.version in done:
                continue
            await _run.execute_script(conn, migration.sql)
            await _run.execute(conn, "migration_record", migration.version, migration.name)
            applied_now.append(migration)
    return applied_now


async def pending(conn: Connection) -> list[Migration]:
    """The migrations this code knows that the database has not had (all of them for a
    database never migrated)."""
    exists = await _run.fetchval(conn, "migrations_table_exists")
    done: set[int] = set()
    if exists:
        done = {r["version"] for r in await _run.fetch(conn, "migrations_applied")}
    return [m for m in available() if m.version not in done]


async def require_current(conn: Connection) -> None:
    """Raise ``ConfigurationError`` when the database lacks a migration this code needs (a
    newer schema is fine: old replicas keep running while new ones are rolled out)."""
    if missing := await pending(conn):
        raise ConfigurationError(
            f"the database lacks {len(missing)} migration(s) (the first: "
            f"{missing[0].version:04d}_{missing[0].name}); run `gateway migrate` as the "
            "schema's owner, or set GATEWAY_MIGRATE_ON_START=true"
        )
