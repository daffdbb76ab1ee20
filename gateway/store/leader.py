"""The cluster's leader: the one replica that does what must be done once for the whole
cluster, such as exporting the figures read from the database (exported by every replica,
Prometheus would add them up once per replica) and verifying the audit chain.

The leader is the replica whose dedicated connection holds a session-level advisory lock
(``pg_try_advisory_lock``). Every replica that does not lead tries to take it every
``interval`` seconds; the leader checks as often that its session still holds it. PostgreSQL
releases the lock when the session ends, so a leader that stops, crashes or loses its
connection leaves it to whichever replica tries next. A leader that loses its connection
stops leading when it notices (at its next check at the latest), and connects again with
backoff. A network cut that the server notices before the leader does could let two
replicas lead for up to one interval: whatever reads the cluster-wide figures takes the
largest across replicas (``max by (...)``), which hides that.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from gateway.core.errors import DatabaseError, DatabaseUnavailable
from gateway.store import _run, db
from gateway.store._run import Connection

log = structlog.get_logger("gateway.leader")

#: the advisory lock's two keys: the gateway's ("gate" in ASCII) and the leader's
LOCK_KEYS = (0x67617465, 1)
#: first and longest pause before connecting again after a failure, seconds
FIRST_PAUSE, LONGEST_PAUSE = 0.1, 5.0
#: longest wait for the dedicated connection to close
CLOSE_TIMEOUT = 5.0


async def try_lead(conn: Connection) -> bool:
    """Take the leader's lock on this session if no other session holds it."""
    return bool(await _run.fetchval(conn, "leader_try_lock", *LOCK_KEYS))


async def still_leading(conn: Connection) -> bool:
    """Whether this session still holds the leader's lock."""
    return bool(await _run.fetchval(conn, "leader_holds", *LOCK_KEYS))


async def resign(conn: Connection) -> None:
    await _run.fetchval(conn, "leader_unlock", *LOCK_KEYS)


class Leadership:
    """Whether this replica leads, kept up to date by :meth:`run` (run it for ever)."""

    def __init__(
        self,
        dsn: str,
        interval: float,
        connect: Callable[[str], Awaitable[Connection]] = db.connect,
    ) -> None:
        self._dsn = dsn
        self._interval = interval
        self._connect = connect
        self._leading = False
        self._changed = asyncio.Event()

    @property
    def leading(self) -> bool:
        return self._leading

    async def wait_change(self, seen: bool, within: float | None = None) -> None:
        """Return once leadership differs from ``seen`` (at once if it already does), or
        after ``within`` seconds (None: only then)."""
        if self._leading != seen:
            return
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await changed.wait()

    async def wait_leading(self) -> None:
        """Return once this replica leads."""
        while not self._leading:
            await self.wait_change(False)

    def _set(self, leading: bool) -> None:
        if leading == self._leading:
            return
        self._leading = leading
        log.info("leadership_taken" if leading else "leadership_given_up")
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def run(self) -> None:
        """Try to lead, and keep leading while the connection lives; connect again when it
        is lost. Only cancellation ends it (and gives the lead up)."""
        pause = FIRST_PAUSE
        while True:
            try:
                conn = await self._connect(self._dsn)
            except DatabaseError as exc:
                log.warning("leader_cannot_connect", error=type(exc).__name__, retry_in=pause)
            else:
                pause = FIRST_PAUSE
                try:
                    await self._lead_on(conn)
                except DatabaseError as exc:
                    log.warning("leader_connection_lost", error=type(exc).__name__)
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)

    async def while_leading(
        self,
        work: Callable[[], Awaitable[object]],
        every: float,
        retry: float,
        failed: str,
        following: Callable[[], object] = lambda: None,
    ) -> None:
        """Run ``work`` when this replica becomes the leader, then every ``every`` seconds
        while it leads (after ``retry`` seconds, if sooner, when the database failed it:
        logged as the event ``failed``); ``following`` when it does not lead. For ever."""
        while True:
            leading = self._leading
            wait: float | None = None
            if leading:
                wait = every
                try:
                    await work()
                except DatabaseError as exc:
                    log.warning(failed, error=type(exc).__name__)
                    wait = min(every, retry)
            else:
                following()
            await self.wait_change(leading, wait)

    async def _lead_on(self, conn: Connection) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            while not lost.is_set():
                # A half-open connection can hang a check for ever while the lock has passed
                # to another replica: a check that takes longer than the interval is a loss.
                try:
                    async with asyncio.timeout(self._interval):
                        if self._leading:
                            if not await still_leading(conn):
                                log.warning("leader_lock_lost")
                                self._set(False)
                        elif await try_lead(conn):
                            self._set(True)
                except TimeoutError:
                    raise DatabaseUnavailable("the leader's check did not answer") from None
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._interval):
                        await lost.wait()
            raise DatabaseUnavailable("the leader's connection was lost")
        finally:
            was_leading = self._leading
            self._set(False)
            await self._close(conn, resign_first=was_leading and not lost.is_set())

    @staticmethod
    async def _close(conn: Connection, *, resign_first: bool) -> None:
        # Ending the session releases the lock; giving it up first tells PostgreSQL at once
        # even when closing the connection is slow. A connection already gone is fine.
        if resign_first:
            with contextlib.suppress(DatabaseError, TimeoutError):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await resign(conn)
        with contextlib.suppress(DatabaseError, TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                with _run.translated():
                    await conn.close()
