"""A connection goes back to the pool without asyncpg's reset query (a round trip on every
release): what it must still not carry to its next user, it does not."""

from __future__ import annotations

import asyncio
import warnings

import asyncpg
import pytest

from gateway.core.errors import DatabaseError
from gateway.store import channels, db


async def no_connection_listens(pool: asyncpg.Pool) -> None:
    """Every connection the pool has, held at once, listens on no channel."""
    held = [await pool.acquire() for _ in range(pool.get_size())]
    try:
        for conn in held:
            assert await conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
    finally:
        for conn in held:
            await pool.release(conn)


async def test_a_listener_leaves_no_connection_listening(pool: asyncpg.Pool) -> None:
    heard = asyncio.Event()
    async with channels.listening(pool, {channels.QUEUED: lambda _payload: heard.set()}):
        async with db.connection(pool) as conn:
            await conn.execute(f"NOTIFY {channels.QUEUED}, 'x'")
        await asyncio.wait_for(heard.wait(), 10)
    await no_connection_listens(pool)


async def test_a_listener_cut_off_while_unlistening_does_not_go_back_listening(
    pool: asyncpg.Pool,
) -> None:
    inside = asyncio.Event()

    async def listen() -> None:
        handlers = {channel: print for channel in (channels.QUEUED, channels.FINISHED)}
        async with channels.listening(pool, handlers):
            inside.set()
            await asyncio.Event().wait()

    task = asyncio.get_running_loop().create_task(listen())
    await asyncio.wait_for(inside.wait(), 10)
    task.cancel()
    await asyncio.sleep(0)  # the task is now waiting on its first UNLISTEN
    task.cancel()  # and is cut off there (a shutdown's second cancellation)
    await asyncio.gather(task, return_exceptions=True)
    await no_connection_listens(pool)


async def test_a_listener_refused_half_way_does_not_go_back_listening(
    pool: asyncpg.Pool,
) -> None:
    """Two channels listened to, the third refused: the session listening on two must not go
    back to the pool. (A cancellation or a cut connection there takes the same path.)"""
    handlers = {channels.QUEUED: print, channels.FINISHED: print, "": print}  # "" is no name
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(DatabaseError):
            async with channels.listening(pool, handlers):
                pass
    # asyncpg warns of a connection released with listeners: it went back listening
    assert [w.message for w in caught if issubclass(w.category, asyncpg.InterfaceWarning)] == []
    await no_connection_listens(pool)


async def test_a_transaction_left_open_is_rolled_back_on_release(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("BEGIN")
        await conn.execute("CREATE TABLE left_open (id int)")
    held = [await pool.acquire() for _ in range(pool.get_size())]
    try:
        for conn in held:
            assert not conn.is_in_transaction()
        assert await held[0].fetchval("SELECT to_regclass('left_open') IS NULL")
    finally:
        for conn in held:
            await pool.release(conn)
