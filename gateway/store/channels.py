"""PostgreSQL NOTIFY channels the gateway's processes use to wake each other, and the
LISTEN side of them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from gateway.core.errors import DatabaseError
from gateway.store import _run
from gateway.store._run import Pool

#: new inquiries were queued (or a batch was approved): claim loops should look; the payload
#: names their agencies, comma-separated (only those loops look), or is empty (every loop)
QUEUED = "gateway_inquiries_queued"


def agencies_payload(agencies: Iterable[str]) -> str:
    """QUEUED's payload for work queued for ``agencies``."""
    return ",".join(agencies)


def payload_agencies(payload: str) -> list[str] | None:
    """The agencies a QUEUED payload names; None: every agency."""
    return [name for name in payload.split(",") if name] or None


#: a batch has subjects whose inquiries are still to be stored (queued in chunks)
UNQUEUED = "gateway_subjects_unqueued"
#: a batch was cancelled; the payload is its id, so in-flight calls for it are stopped
CANCELLED = "gateway_batch_cancelled"
#: a batch's last inquiry was answered (by whichever replica); the payload is its id, so
#: every replica's waiters for it are told
FINISHED = "gateway_batch_finished"

#: called with a notification's payload (what it returns is ignored)
Handler = Callable[[str], object]


@asynccontextmanager
async def listening(
    pool: Pool, handlers: Mapping[str, Handler]
) -> AsyncGenerator[asyncio.Event, None]:
    """LISTEN on each channel with one pooled connection while the block runs; the event is
    set when that connection is lost (the database restarted): leave the block and listen
    again."""
    lost = asyncio.Event()
    async with _run.connection(pool) as conn:
        conn.add_termination_listener(lambda _conn: lost.set())
        callbacks: dict[str, Callable[[Any, int, str, str], None]] = {}
        try:
            for channel, handler in handlers.items():

                def callback(
                    _c: Any, _pid: int, _ch: str, payload: str, run: Handler = handler
                ) -> None:
                    run(payload)

                callbacks[channel] = callback
                with _run.translated():
                    await conn.add_listener(channel, callback)
        except BaseException:
            # Refused, cut off or cancelled half-way, listening on some channels: the pool
            # does not reset what it takes back (db._keep_session), so it must not have it.
            _discard(conn, lost)
            raise
        try:
            yield lost
        finally:
            # A lost connection has already gone back to the pool (asyncpg releases it when
            # it is cut) and its proxy refuses every call, is_closed() included: asking it
            # turned each reconnection into an error. Its listeners died with it.
            if not lost.is_set() and not conn.is_closed():
                try:
                    with _run.translated():
                        for channel, listener in callbacks.items():
                            await conn.remove_listener(channel, listener)
                except BaseException:
                    # Still listening (cancelled or cut off half-way): as above.
                    _discard(conn, lost)
                    raise


def _discard(conn: _run.Connection, lost: asyncio.Event) -> None:
    """End the session: it is not to go back to the pool. A cut one may have gone back
    already, before ``lost`` is set (asyncpg tells of the loss at its next turn): its proxy
    then refuses the call, which ends here as the database being unavailable."""
    if not lost.is_set():
        with contextlib.suppress(DatabaseError), _run.translated():
            conn.terminate()
