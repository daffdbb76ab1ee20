"""Shared fixtures: one embedded PostgreSQL per session, a migrated template database cloned
for every test, mock agencies on loopback, and a gateway wired to both."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.accountability.auth import create_token
from gateway.core.settings import Settings
from gateway.http.app import make_app
from gateway.http.keys import DISPATCHER, POLICY, POOL
from gateway.store import db, migrations
from gateway.store.embedded import EmbeddedPostgres
from mocks.population import sample_ids
from mocks.testing import running_mocks

TEMPLATE = "gateway_template"
CASE = "（2022）吉03执123号"
_numbers = itertools.count(1)


def with_database(url: str, name: str) -> str:
    # Embedded URLs look like postgresql://postgres:@/postgres?host=/socket/dir
    base, _, query = url.partition("?")
    prefix = base.rsplit("/", 1)[0]
    return f"{prefix}/{name}" + (f"?{query}" if query else "")


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL for the whole session (or GATEWAY_TEST_DATABASE_URL's server)."""
    external = os.environ.get("GATEWAY_TEST_DATABASE_URL")
    if external:
        yield external
        return
    server = EmbeddedPostgres(Path(tmp_path_factory.mktemp("pg")))
    url = server.start()
    yield url
    server.stop()


@pytest.fixture(scope="session")
async def template_url(pg_url: str) -> str:
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {TEMPLATE}")
    finally:
        await conn.close()
    url = with_database(pg_url, TEMPLATE)
    conn = await asyncpg.connect(url)
    try:
        await migrations.migrate(conn)
    finally:
        await conn.close()
    return url


@pytest.fixture
async def database_url(pg_url: str, template_url: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test: a clone of the template (fast)."""
    name = f"test_{os.getpid()}_{next(_numbers)}"
    admin = await asyncpg.connect(pg_url)
    try:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    finally:
        await admin.close()
    yield with_database(pg_url, name)
    admin = await asyncpg.connect(pg_url)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(database_url)
    yield pool
    await pool.close()


class RestartablePostgres:
    """An embedded PostgreSQL server of its own, which a test may stop and start (a restart
    of the session's shared server would disturb every other test's databases)."""

    def __init__(self, data_dir: Path) -> None:
        self._embedded = EmbeddedPostgres(data_dir)
        self.server_url = self._embedded.start()

    def running(self) -> bool:
        return self._embedded.running()

    async def stop(self, mode: str = "fast") -> None:
        """Shut down; returns when the server has stopped (``EmbeddedPostgres.halt``)."""
        await asyncio.to_thread(self._embedded.halt, mode)

    async def start(self) -> None:
        """Start again on the same socket (the same URL); returns when it accepts connections."""
        await asyncio.to_thread(self._embedded.resume)

    async def restart(self, mode: str = "fast") -> None:
        await self.stop(mode)
        await self.start()

    def close(self) -> None:
        self._embedded.stop()


@dataclass
class RestartableDatabase:
    """A fresh, migrated database on a server the test may stop and start."""

    url: str
    server: RestartablePostgres

    async def stop(self, mode: str = "fast") -> None:
        await self.server.stop(mode)

    async def start(self) -> None:
        await self.server.start()

    async def restart(self, mode: str = "fast") -> None:
        await self.server.restart(mode)


@pytest.fixture(scope="session")
async def restartable_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[RestartablePostgres]:
    server = RestartablePostgres(tmp_path_factory.mktemp("pg-restartable"))
    conn = await asyncpg.connect(server.server_url)
    try:
        await conn.execute(f"CREATE DATABASE {TEMPLATE}")
    finally:
        await conn.close()
    conn = await asyncpg.connect(with_database(server.server_url, TEMPLATE))
    try:
        await migrations.migrate(conn)
    finally:
        await conn.close()
    yield server
    server.close()


@pytest.fixture
async def restartable_pg(
    restartable_server: RestartablePostgres,
) -> AsyncIterator[RestartableDatabase]:
    """A PostgreSQL this test may restart: its own server (shared only with other restart
    tests, one at a time), running when the test starts, and a fresh migrated database on it.
    To run a gateway on it, override ``database_url`` with ``restartable_pg.url``."""
    if not restartable_server.running():
        await restartable_server.start()  # a test before this one left it stopped
    name = f"restart_{os.getpid()}_{next(_numbers)}"
    admin = await asyncpg.connect(restartable_server.server_url)
    try:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    finally:
        await admin.close()
    yield RestartableDatabase(
        with_database(restartable_server.server_url, name), restartable_server
    )
    if not restartable_server.running():
        await restartable_server.start()
    admin = await asyncpg.connect(restartable_server.server_url)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture
async def mocks() -> AsyncIterator[Any]:
    async with running_mocks(latency="zero") as running:
        yield running


ROOT = Path(__file__).resolve().parents[1]


async def gateway_command(
    database_url: str, data_dir: Path, *argv: str, stdin: bytes = b""
) -> tuple[int, str, str]:
    """``python -m gateway ARGV`` in its own process against this database:
    (exit code, stdout, stderr)."""
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_DATA_DIR": str(data_dir),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", *argv, cwd=ROOT, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await process.communicate(stdin)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def batch_body(
    subjects: list[tuple[str, str]] | None = None,
    *,
    n: int = 3,
    seed: int = 1,
    case: str = CASE,
    agencies: list[str] | None = None,
    reason: str = "查询被执行人财产线索",
) -> dict[str, Any]:
    """A valid submission: the given (name, id) pairs, or ``n`` synthetic debtors."""
    people = subjects if subjects is not None else sample_ids(n, seed)
    body: dict[str, Any] = {
        "case_number": case,
        "reason": reason,
        "subjects": [{"name": name, "id_number": number} for name, number in people],
    }
    if agencies is not None:
        body["agencies"] = agencies
    return body


#: generated data keys go here, not into the checkout's .gateway-data
_KEY_DIR = Path(tempfile.mkdtemp(prefix="gateway-test-keys-"))


def test_settings(mock_urls: dict[str, str], **overrides: Any) -> Settings:
    settings = Settings.from_env({"GATEWAY_WORKER_ID": "test", "GATEWAY_DATA_DIR": str(_KEY_DIR)})
    settings = settings.with_agency_urls(mock_urls)
    return settings.replace(
        lease_seconds=overrides.pop("lease_seconds", 30.0),
        poll_seconds=overrides.pop("poll_seconds", 0.5),
        backoff_base=overrides.pop("backoff_base", 0.01),
        backoff_cap=overrides.pop("backoff_cap", 0.05),
        # The gateway suites submit unregistered cases, repeat subjects and run at any hour;
        # tests/integration/accountability switches every rule on explicitly.
        require_filed_case=overrides.pop("require_filed_case", False),
        requery_days=overrides.pop("requery_days", 0),
        working_hours=overrides.pop("working_hours", ""),
        # No helper process per test app: the tests that share a large list's work ask for it.
        intake_processes=overrides.pop("intake_processes", 0),
        **overrides,
    )


@dataclass
class Gateway:
    """A running gateway (API + dispatcher) on loopback, and helpers to drive it."""

    client: TestClient
    database_url: str
    settings: Settings
    _tokens: dict[tuple[str, str | None, str | None], str] = field(default_factory=dict)

    @property
    def pool(self) -> asyncpg.Pool:
        return self.client.app[POOL]  # type: ignore[return-value]  # the real asyncpg pool

    @property
    def clock(self) -> Any:
        """The clock the admission rules see (tests inject their own)."""
        return self.client.app[POLICY].clock

    async def token(
        self, role: str = "officer", team: str | None = "team-a", officer: str | None = None
    ) -> str:
        key = (role, team, officer)
        if key not in self._tokens:
            async with self.pool.acquire() as conn:
                self._tokens[key] = await create_token(
                    conn,
                    officer=officer or f"{role}-{team}",
                    role=role,
                    team=team,  # type: ignore[arg-type]
                )
        return self._tokens[key]

    async def headers(self, role: str = "officer", team: str | None = "team-a") -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(role, team)}"}

    async def submit(self, body: dict[str, Any], team: str = "team-a", **headers: str) -> Any:
        response = await self.client.post(
            "/v1/batches", json=body, headers={**await self.headers(team=team), **headers}
        )
        assert response.status == 202, await response.text()
        return await response.json()

    async def wait_finished(self, batch_id: str, timeout: float = 60) -> None:
        await asyncio.wait_for(self.client.app[DISPATCHER].wait_finished(batch_id), timeout)

    async def all_results(self, batch_id: str, team: str = "team-a") -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
            response = await self.client.get(
                f"/v1/batches/{batch_id}/results",
                params=params,
                headers=await self.headers(team=team),
            )
            assert response.status == 200, await response.text()
            page = await response.json()
            items.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                return items


@pytest.fixture
async def gateway_factory(database_url: str, mocks: Any):  # type: ignore[no-untyped-def]
    started: list[TestClient] = []

    async def start(*, dispatch: bool = True, **overrides: Any) -> Gateway:
        clock = overrides.pop("clock", None)
        settings = test_settings(mocks.urls, **overrides)
        if clock is None:
            app = make_app(settings, database_url, dispatch=dispatch)
        else:
            app = make_app(settings, database_url, dispatch=dispatch, clock=clock)
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        started.append(client)
        return Gateway(client, database_url, settings)

    yield start
    for client in reversed(started):
        await client.close()


@pytest.fixture
async def gateway(gateway_factory: Any) -> Gateway:
    return await gateway_factory()
