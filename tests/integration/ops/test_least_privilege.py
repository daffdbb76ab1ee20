"""Least privilege: in production the schema's owner migrates (`gateway migrate`) and the
service logs in as a member of ``gateway_app``. Run that way, a batch goes through end to end
(intake, dispatch, results, the audit chain) and is purged after its retention, while the
role can neither alter the schema nor rewrite the audit log; and a service not allowed to
migrate refuses a database that lacks a migration instead of failing at its first query."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from connectors.registry import AGENCIES
from gateway.accountability import audit, retention
from gateway.cli import runner
from gateway.core.errors import ConfigurationError
from gateway.core.settings import Settings
from gateway.http.app import make_app
from gateway.store import migrations
from tests.conftest import Gateway, batch_body, with_database
from tests.conftest import test_settings as settings_for

#: the service's login role: a member of gateway_app and nothing more
LOGIN = "gateway_service"


def _as_login(url: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{LOGIN}:@{host}"))


@pytest.fixture
async def service_url(pg_url: str, database_url: str) -> str:
    """The test's (migrated) database, logged into as the service's role."""
    admin = await asyncpg.connect(pg_url)
    try:  # roles belong to the server, not the database: created once per server
        await admin.execute(
            f"""DO $$ BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{LOGIN}') THEN
                    CREATE ROLE {LOGIN} LOGIN IN ROLE gateway_app;
                END IF;
            END $$"""
        )
        granted = await admin.fetchval(
            "SELECT pg_has_role($1, 'gateway_app', 'MEMBER') AND NOT rolsuper"
            " FROM pg_roles WHERE rolname = $1",
            LOGIN,
        )
        assert granted  # a member of gateway_app, not a superuser
    finally:
        await admin.close()
    return _as_login(database_url)


@pytest.fixture
async def service(service_url: str, mocks: Any) -> AsyncIterator[Gateway]:
    # Its own scheduled purge never finds anything due; a test purges when it chooses.
    settings = settings_for(mocks.urls, migrate_on_start=False, retention_days=36500)
    client = TestClient(TestServer(make_app(settings, service_url), host="127.0.0.1"))
    await client.start_server()
    try:
        yield Gateway(client, service_url, settings)
    finally:
        await client.close()


async def test_a_batch_runs_end_to_end_under_the_application_role(service: Gateway) -> None:
    people = batch_body(n=3, seed=41)
    batch = await service.submit(people)
    await service.wait_finished(batch["id"])
    results = await service.all_results(batch["id"])
    assert sorted((r["subject"]["id_number"], r["agency"]) for r in results) == sorted(
        (s["id_number"], agency) for s in people["subjects"] for agency in AGENCIES
    )
    assert {r["status"] for r in results} <= {"found", "not_found"}
    async with service.pool.acquire() as conn:
        assert await conn.fetchval("SELECT current_user") == LOGIN
        assert (await audit.verify(conn)).ok


async def test_the_application_role_purges_what_outlived_its_retention(
    service: Gateway, database_url: str
) -> None:
    batch = await service.submit(batch_body(n=2, seed=43))
    await service.wait_finished(batch["id"])
    owner = await asyncpg.connect(database_url)
    try:  # made old by the owner (the test arranges the past)
        await owner.execute(
            "UPDATE batches SET finished_at = now() - interval '400 days' WHERE id = $1",
            uuid.UUID(batch["id"]),
        )
    finally:
        await owner.close()

    settings = service.settings.replace(retention_days=180)
    report = await retention.purge(service.pool, settings, datetime.now(UTC), "test")

    assert [str(b.id) for b in report.batches] == [batch["id"]]
    assert report.subjects == 2
    async with service.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(name) FROM subjects") == 0
        assert (await audit.verify(conn)).ok


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE intruder (x integer)",
        "ALTER TABLE batches ADD COLUMN intruder integer",
        "DROP TABLE inquiries",
        "CREATE INDEX intruder ON subjects (row)",
        "UPDATE audit_log SET officer = 'someone else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "UPDATE audit_chain_head SET seq = 0",
        "INSERT INTO schema_migrations (version, name) VALUES (9999, 'intruder')",
    ],
)
async def test_the_application_role_cannot_alter_the_schema_or_the_audit_log(
    service_url: str, statement: str
) -> None:
    conn = await asyncpg.connect(service_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture
async def behind_url(pg_url: str) -> AsyncIterator[str]:
    """A database never migrated."""
    name = f"behind_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(pg_url)
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        yield with_database(pg_url, name)
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


async def test_a_service_that_may_not_migrate_refuses_a_database_behind_its_code(
    behind_url: str, mocks: Any
) -> None:
    settings = settings_for(mocks.urls, migrate_on_start=False)
    client = TestClient(TestServer(make_app(settings, behind_url), host="127.0.0.1"))
    with pytest.raises(ConfigurationError, match="gateway migrate"):
        await client.start_server()
    await client.close()
    conn = await asyncpg.connect(behind_url)
    try:  # nothing was created in it
        assert len(await migrations.pending(conn)) == len(migrations.available())
    finally:
        await conn.close()


async def test_a_one_off_command_refuses_it_too_and_migrate_brings_it_up(behind_url: str) -> None:
    settings = Settings.from_env({"GATEWAY_DATABASE_URL": behind_url})
    with pytest.raises(ConfigurationError, match="gateway migrate"):
        async with runner.connection(settings):
            pass
    async with runner.connection(settings, migrate=True) as conn:  # what `gateway migrate` does
        assert await migrations.pending(conn) == []
    async with runner.connection(settings) as conn:
        assert await conn.fetchval("SELECT count(*) FROM batches") == 0


def test_only_the_embedded_database_is_migrated_at_start_unless_told() -> None:
    assert Settings.from_env({}).migrates_on_start
    external = {"GATEWAY_DATABASE_URL": "postgresql://gateway@db.example/gateway"}
    assert not Settings.from_env(external).migrates_on_start
    told = {**external, "GATEWAY_MIGRATE_ON_START": "true"}
    assert Settings.from_env(told).migrates_on_start
