"""The one I/O seam to PostgreSQL: a pool with JSON codecs, and the database's URL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from gateway.embedded_db import EmbeddedPostgres
from gateway.errors import DatabaseUnavailable
from gateway.settings import Settings


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def connect(dsn: str) -> asyncpg.Connection:
    """One connection with the pool's codecs (for commands, tests and benchmarks)."""
    try:
        conn = await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL ({type(exc).__name__})") from exc
    await _init_connection(conn)
    return conn


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    try:
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, init=_init_connection
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL ({type(exc).__name__})") from exc
    assert pool is not None
    return pool


@asynccontextmanager
async def database_url(settings: Settings) -> AsyncIterator[str]:
    """The configured server, or an embedded one started for as long as this is open."""
    if settings.database_url:
        yield settings.database_url
        return
    embedded = EmbeddedPostgres(settings.data_dir)
    url = embedded.start()
    try:
        yield url
    finally:
        embedded.stop()
