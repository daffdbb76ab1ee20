"""Connections to PostgreSQL for the layers above the store: a pool with JSON codecs, one-off
connections, connections and transactions (errors translated), the database's URL (the
configured server, or the embedded one), and the readiness probe."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, cast

import asyncpg

from gateway.store import _run
from gateway.store._run import Connection, Pool, Record, connection, transaction, transaction_on
from gateway.store.embedded import EmbeddedPostgres

__all__ = [
    "Connection",
    "Pool",
    "Record",
    "connect",
    "connection",
    "create_pool",
    "database_url",
    "ping",
    "transaction",
    "transaction_on",
]


class _Driver(Protocol):
    """The asyncpg functions used here, as they are called (asyncpg annotates few of their
    parameters)."""

    def connect(self, dsn: str) -> Awaitable[Connection]: ...

    def create_pool(
        self,
        dsn: str,
        *,
        min_size: int,
        max_size: int,
        init: Callable[[Any], Awaitable[None]],
        reset: Callable[[Any], Awaitable[None]],
    ) -> Awaitable[Pool]: ...


_asyncpg = cast(_Driver, asyncpg)


async def _init_connection(conn: Any) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(_conn: Any) -> None:
    """A connection going back to the pool keeps its session as it is. asyncpg's own reset
    (close cursors, UNLISTEN, RESET ALL, release advisory locks) is a round trip on every
    release, dozens a second under load, and there is nothing here for it to undo: no
    session setting is ever changed, advisory locks and cursors live only as long as their
    transaction, and a listener UNLISTENs before it lets go (``channels.listening``). asyncpg
    still rolls back a transaction left open, before this runs."""


async def connect(dsn: str) -> Connection:
    """One connection with the pool's codecs (for commands, tests and benchmarks)."""
    with _run.translated():
        conn = await _asyncpg.connect(dsn)
        await _init_connection(conn)
    return conn


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> Pool:
    with _run.translated():
        pool = await _asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            init=_init_connection,
            reset=_keep_session,
        )
    return pool


async def ping(pool: Pool, acquire_timeout: float = 2.0) -> None:
    """Raises ``DatabaseUnavailable`` unless a connection is had within ``acquire_timeout``
    and the database answers on it."""
    async with _run.connection(pool, acquire_timeout) as conn:
        await _run.fetchval(conn, "readiness_probe")


@asynccontextmanager
async def database_url(url: str | None, data_dir: Path) -> AsyncGenerator[str, None]:
    """``url``, or an embedded server in ``data_dir`` started for as long as this is open."""
    if url:
        yield url
        return
    embedded = EmbeddedPostgres(data_dir)
    started = embedded.start()
    try:
        yield started
    finally:
        embedded.stop()
