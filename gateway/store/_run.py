"""The one place SQL is executed and asyncpg's errors are translated.

Store modules call ``fetch``/``fetchrow``/``fetchval``/``execute`` with a *named* query (see
``gateway/store/sql/*.sql``) and open connections and transactions through ``connection``
and ``transaction``. Whatever asyncpg raises there becomes one of ``gateway.core.errors``:

- the server restarting, a connection cut or refused, a pool timeout: ``DatabaseUnavailable``
  (try again later);
- a deadlock or serialization failure: ``TransactionConflict`` (the transaction rolled back
  whole; run it again);
- anything else PostgreSQL refuses: ``DatabaseError``.

The driver's objects are typed here by the small protocols below, so the rest of the gateway
never sees asyncpg.
"""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Protocol, TypeVar

import asyncpg

from gateway.core.errors import DatabaseError, DatabaseUnavailable, TransactionConflict
from gateway.store._sql import sql


class Record(Protocol):
    """A row: values by column name (or position)."""

    def __getitem__(self, key: str | int, /) -> Any: ...

    def get(self, key: str, default: Any = None, /) -> Any: ...


class _Transaction(Protocol):
    async def __aenter__(self) -> Any: ...

    async def __aexit__(self, *exc: object) -> Any: ...


class _Cursor(Protocol):
    def __aiter__(self) -> AsyncIterator[Record]: ...


T = TypeVar("T")
Listener = Callable[[Any, int, str, str], None]


class Connection(Protocol):
    """What the store uses of an asyncpg connection."""

    async def fetch(self, query: str, *args: Any) -> list[Record]: ...

    async def fetchrow(self, query: str, *args: Any) -> Record | None: ...

    async def fetchval(self, query: str, *args: Any) -> Any: ...

    async def execute(self, query: str, *args: Any) -> str: ...

    async def executemany(self, command: str, args: Iterable[Sequence[Any]]) -> None: ...

    async def copy_records_to_table(
        self,
        table_name: str,
        *,
        records: Iterable[Sequence[Any]] | AsyncIterable[Sequence[Any]],
        columns: Sequence[str],
    ) -> str: ...

    def transaction(
        self, *, isolation: str | None = None, readonly: bool = False
    ) -> _Transaction: ...

    def cursor(self, query: str, *args: Any, prefetch: int | None = None) -> _Cursor: ...

    def is_in_transaction(self) -> bool: ...

    def is_closed(self) -> bool: ...

    async def add_listener(self, channel: str, callback: Listener) -> None: ...

    async def remove_listener(self, channel: str, callback: Listener) -> None: ...

    def add_termination_listener(self, callback: Callable[[Any], None]) -> None: ...

    async def close(self) -> None: ...

    def terminate(self) -> None: ...


class _Acquire(Protocol):
    async def __aenter__(self) -> Connection: ...

    async def __aexit__(self, *exc: object) -> Any: ...


class Pool(Protocol):
    """What the gateway uses of an asyncpg pool."""

    def acquire(self, *, timeout: float | None = None) -> _Acquire: ...

    async def close(self) -> None: ...

    def get_size(self) -> int: ...


#: the server went away, restarted, refuses connections now, or the pool timed out
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.ConnectionDoesNotExistError,
    # A statement sent on a pooled connection whose session the server has just ended (a
    # fast shutdown's FATAL read, the socket's end not yet): asyncpg's protocol is stuck
    # mid-error and it raises "cannot switch to state N; another operation (2) is in
    # progress", an InternalClientError, which is neither of the above. Left untranslated it
    # passed every `except DatabaseError`: it killed an agency's permit sync loop (its calls
    # then waited for permits for ever), failed agency calls as connector crashes and made
    # the writer drop a group. The pool terminates such a connection when it is released
    # (its reset fails), so trying again later gets a fresh one.
    asyncpg.InternalClientError,
)


@contextmanager
def translated() -> Generator[None, None, None]:
    """Turn asyncpg's (and the socket's) errors into the gateway's database errors."""
    try:
        yield
    except asyncpg.TransactionRollbackError as exc:
        raise TransactionConflict(f"transaction rolled back ({type(exc).__name__})") from exc
    except _UNAVAILABLE as exc:
        raise DatabaseUnavailable(f"the database is unavailable ({type(exc).__name__})") from exc
    except asyncpg.PostgresError as exc:
        # Names the kind of failure only: PostgreSQL's message may quote a value.
        raise DatabaseError(f"the database refused a statement ({type(exc).__name__})") from exc


async def _run(call: Awaitable[T]) -> T:
    with translated():
        return await call


async def fetch(conn: Connection, query: str, *args: Any) -> list[Record]:
    return await _run(conn.fetch(sql(query), *args))


async def fetchrow(conn: Connection, query: str, *args: Any) -> Record | None:
    return await _run(conn.fetchrow(sql(query), *args))


async def fetchval(conn: Connection, query: str, *args: Any) -> Any:
    return await _run(conn.fetchval(sql(query), *args))


async def execute(conn: Connection, query: str, *args: Any) -> str:
    return await _run(conn.execute(sql(query), *args))


async def executemany(conn: Connection, query: str, args: Iterable[Sequence[Any]]) -> None:
    await _run(conn.executemany(sql(query), args))


async def copy_records(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    records: Iterable[Sequence[Any]] | AsyncIterable[Sequence[Any]],
) -> None:
    await _run(conn.copy_records_to_table(table, columns=columns, records=records))


async def stream(
    conn: Connection, query: str, *args: Any, prefetch: int = 2000
) -> AsyncIterator[Record]:
    """The rows of a named query through a server-side cursor (inside a transaction)."""
    with translated():
        async for record in conn.cursor(sql(query), *args, prefetch=prefetch):
            yield record


@asynccontextmanager
async def _pooled(
    pool: Pool, acquire_timeout: float | None = None
) -> AsyncGenerator[Connection, None]:
    """``pool.acquire()``, except that handing the connection back cannot fail a block that
    ended well.

    When the server ends the session just after the block's last statement was answered (a
    fast shutdown cuts every connection), the pool's reset on release fails: the pool then
    terminates that connection (the next acquire opens a new one) and re-raises. The block's
    statements were answered by then, a transaction it ran committed. Reported as the
    block's failure, a claim's leased inquiries were thrown away unworked, yet renewed for
    ever by the lease keeper (it renews every lease of its owner), and their batch never
    finished; a writer's committed group was committed again (recording nothing)."""
    acquiring = pool.acquire(timeout=acquire_timeout)
    conn = await acquiring.__aenter__()
    try:
        yield conn
    except BaseException as exc:
        try:
            await acquiring.__aexit__(type(exc), exc, exc.__traceback__)
        except _UNAVAILABLE:
            pass  # the block's own failure is the one to report
        raise
    try:
        await acquiring.__aexit__(None, None, None)
    except _UNAVAILABLE:
        pass  # the connection is gone; what the block did stands


@asynccontextmanager
async def connection(
    pool: Pool, acquire_timeout: float | None = None
) -> AsyncGenerator[Connection, None]:
    """A connection from the pool, for as long as the block runs."""
    with translated():
        async with _pooled(pool, acquire_timeout) as conn:
            yield conn


@asynccontextmanager
async def transaction(
    conn: Connection, *, isolation: str | None = None, readonly: bool = False
) -> AsyncGenerator[Connection, None]:
    """A transaction (a savepoint inside one) on ``conn``: committed if the block ends
    normally, rolled back whole if it raises."""
    with translated():
        async with conn.transaction(isolation=isolation, readonly=readonly):
            yield conn


@asynccontextmanager
async def transaction_on(pool: Pool) -> AsyncGenerator[Connection, None]:
    """A connection from the pool with a transaction open on it."""
    with translated():
        async with _pooled(pool) as conn, conn.transaction():
            yield conn


async def execute_script(conn: Connection, script: str) -> None:
    """Run a whole SQL script (a migration file): statements that are not named queries."""
    await _run(conn.execute(script))
