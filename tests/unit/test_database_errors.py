"""How the store reports what asyncpg does while PostgreSQL restarts, without a database:
asyncpg's stuck protocol is the database being unavailable, and a connection that cannot be
handed back to the pool does not fail a block whose statements were all answered."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from gateway.core.errors import DatabaseUnavailable
from gateway.store import _run

#: what asyncpg raises for a statement sent on a pooled connection whose session a fast
#: shutdown has just ended (the server's FATAL read, the socket's end not yet)
STUCK = "cannot switch to state 15; another operation (2) is in progress"


def test_asyncpg_stuck_on_a_connection_the_server_ended_is_the_database_unavailable() -> None:
    with pytest.raises(DatabaseUnavailable), _run.translated():
        raise asyncpg.InternalClientError(STUCK)


class Acquiring:
    def __init__(self, pool: CutPool) -> None:
        self._pool = pool

    async def __aenter__(self) -> Any:
        return object()

    async def __aexit__(self, *exc: object) -> None:
        self._pool.released += 1
        # The pool's reset fails on the cut connection: it terminates it and re-raises.
        raise asyncpg.InternalClientError(STUCK)


class CutPool:
    """A pool whose connection the server cuts once the block's statements are answered."""

    def __init__(self) -> None:
        self.released = 0

    def acquire(self, *, timeout: float | None = None) -> Acquiring:
        return Acquiring(self)

    async def close(self) -> None:
        return None

    def get_size(self) -> int:
        return 1


async def test_a_connection_cut_after_the_block_does_not_fail_the_block() -> None:
    pool = CutPool()
    done = []
    async with _run.connection(pool) as conn:  # a claim whose rows came back
        done.append(conn)
    assert len(done) == 1 and pool.released == 1


async def test_the_blocks_own_failure_is_what_is_reported() -> None:
    pool = CutPool()
    with pytest.raises(DatabaseUnavailable) as raised:
        async with _run.connection(pool):
            raise asyncpg.ConnectionDoesNotExistError("connection was closed")
    assert isinstance(raised.value.__cause__, asyncpg.ConnectionDoesNotExistError)
    assert pool.released == 1
