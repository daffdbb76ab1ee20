"""The OpenAPI document matches the live router and real responses; health, readiness,
metrics; migrations; the token command."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import jsonschema
from aiohttp import web

from gateway.http.roles import allowed_roles
from gateway.http.web.pages import is_page
from gateway.store import migrations
from mocks.population import sample_ids
from tests.conftest import Gateway, batch_body, gateway_command, with_database

ROOT = Path(__file__).resolve().parents[3]


async def openapi(gateway: Gateway) -> dict[str, Any]:
    response = await gateway.client.get("/openapi.json")
    assert response.status == 200
    return await response.json()


def check(document: dict[str, Any], method: str, path: str, status: int, body: Any) -> None:
    """Validate a real response body against the schema the document promises for it."""
    operation = document["paths"][path][method.lower()]
    response = operation["responses"][str(status)]
    schema = response["content"]["application/json"]["schema"]
    resolver_schema = {**schema, "components": document["components"]}
    jsonschema.validate(body, resolver_schema)


async def test_every_route_is_documented_with_its_roles_and_nothing_else(gateway: Gateway) -> None:
    document = await openapi(gateway)
    assert document["openapi"].startswith("3.1")
    app: web.Application = gateway.client.app
    live = {
        (r.method.lower(), r.resource.canonical)
        for r in app.router.routes()
        if r.method != "HEAD" and r.resource is not None and not is_page(r.handler)
    }
    documented = {(m, p) for p, ops in document["paths"].items() for m in ops}
    assert live == documented
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None or is_page(route.handler):
            continue
        operation = document["paths"][route.resource.canonical][route.method.lower()]
        assert operation["summary"] != "(undocumented)", route.resource.canonical
        assert operation["x-roles"] == list(allowed_roles(route.handler) or ()), route
        assert operation["responses"], route.resource.canonical


async def test_real_responses_match_the_documented_schemas(gateway: Gateway) -> None:
    document = await openapi(gateway)
    headers = await gateway.headers()
    body = batch_body(n=4, seed=8)
    jsonschema.validate(
        body,
        {
            **document["components"]["schemas"]["BatchSubmission"],
            "components": document["components"],
        },
    )
    response = await gateway.client.post("/v1/batches", json=body, headers=headers)
    created = await response.json()
    check(document, "POST", "/v1/batches", 202, created)
    await gateway.wait_finished(created["id"])
    batch_path = "/v1/batches/{batch_id}"
    for method, path, real in [
        ("GET", "/v1/batches", "/v1/batches"),
        ("GET", batch_path, f"/v1/batches/{created['id']}"),
        ("GET", batch_path + "/results", f"/v1/batches/{created['id']}/results?limit=3"),
    ]:
        response = await gateway.client.request(method, real, headers=headers)
        assert response.status == 200
        check(document, method, path, 200, await response.json())
    bad = await gateway.client.post("/v1/batches", json={"subjects": []}, headers=headers)
    check(document, "POST", "/v1/batches", 422, await bad.json())
    missing = await gateway.client.get(
        "/v1/batches/" + "0" * 8 + "-0000-0000-0000-" + "0" * 12, headers=headers
    )
    check(document, "GET", batch_path, 404, await missing.json())
    cancelled_again = await gateway.client.post(
        f"/v1/batches/{created['id']}/cancel", headers=headers
    )
    check(document, "POST", batch_path + "/cancel", 409, await cancelled_again.json())


async def test_health_readiness_and_metrics(gateway: Gateway) -> None:
    assert (await gateway.client.get("/healthz")).status == 200
    ready = await gateway.client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["database"] == "ok"
    body = batch_body(n=3, seed=9)
    created = await gateway.submit(body)
    await gateway.wait_finished(created["id"])
    text = await (await gateway.client.get("/metrics")).text()
    assert "gateway_batches_submitted_total 1.0" in text
    assert 'gateway_inquiries_completed_total{agency="household"' in text
    assert 'gateway_agency_calls_total{agency="vehicle",outcome="ok"}' in text
    for name, id_number in sample_ids(3, seed=9):
        assert id_number not in text and name not in text


async def test_readiness_fails_when_the_database_is_gone(gateway_factory: Any) -> None:
    gateway = await gateway_factory(dispatch=False)
    await gateway.pool.close()
    response = await gateway.client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["status"] == "unavailable"


async def test_migrations_apply_once_even_when_run_concurrently(pg_url: str) -> None:
    admin = await asyncpg.connect(pg_url)
    await admin.execute("CREATE DATABASE migrate_race")
    await admin.close()
    url = with_database(pg_url, "migrate_race")
    conns = [await asyncpg.connect(url) for _ in range(3)]
    try:
        applied = await asyncio.gather(*(migrations.migrate(c) for c in conns))
        assert sorted(len(a) for a in applied) == [0, 0, len(migrations.available())]
        versions = await conns[0].fetch("SELECT version FROM schema_migrations ORDER BY 1")
        assert [r["version"] for r in versions] == [m.version for m in migrations.available()]
    finally:
        for conn in conns:
            await conn.close()
        admin = await asyncpg.connect(pg_url)
        await admin.execute("DROP DATABASE migrate_race WITH (FORCE)")
        await admin.close()


async def test_token_create_prints_a_working_token_as_its_last_line(
    gateway: Gateway, tmp_path: Path
) -> None:
    code, stdout, _ = await gateway_command(
        gateway.database_url, tmp_path, "token", "create", "--role", "officer", "--team", "t9"
    )
    assert code == 0
    token = stdout.strip().splitlines()[-1]
    response = await gateway.client.get("/v1/batches", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200
    async with gateway.pool.acquire() as conn:
        stored = await conn.fetchval(
            "SELECT count(*) FROM tokens WHERE token_hash = $1", token.encode()
        )
    assert stored == 0  # only the hash is stored, never the token itself


async def test_a_route_that_forgot_its_roles_is_closed_to_everyone(gateway_factory: Any) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from gateway.http.app import make_app

    gateway = await gateway_factory(dispatch=False)

    async def forgotten(_request: web.Request) -> web.Response:
        return web.json_response({"secret": True})

    app = make_app(gateway.settings, gateway.database_url, dispatch=False)
    app.router.add_get("/v1/forgotten", forgotten)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        for headers in (
            {},
            await gateway.headers(),
            await gateway.headers(role="admin", team=None),
        ):
            response = await client.get("/v1/forgotten", headers=headers)
            assert response.status == 403
            assert "secret" not in await response.text()
    finally:
        await client.close()


async def test_token_create_is_audited_and_never_moves_an_existing_officer(
    gateway: Gateway, tmp_path: Path
) -> None:
    async def token_create(*args: str) -> tuple[int, str]:
        code, _, stderr = await gateway_command(
            gateway.database_url, tmp_path, "token", "create", *args
        )
        return code, stderr

    assert (await token_create("--role", "officer", "--team", "t1", "--officer", "li"))[0] == 0
    code, message = await token_create("--role", "officer", "--team", "t2", "--officer", "li")
    assert code == 1 and "exists with another role or team" in message
    code, _ = await token_create("--role", "admin", "--officer", "li")
    assert code == 1
    async with gateway.pool.acquire() as conn:
        officer = await conn.fetchrow(
            "SELECT o.role, t.name AS team FROM officers o JOIN teams t ON t.id = o.team_id "
            "WHERE o.name = 'li'"
        )
        issued = await conn.fetch(
            "SELECT officer, detail FROM audit_log WHERE action = 'token.issued' "
            "AND detail->>'officer' = 'li'"
        )
    assert (officer["role"], officer["team"]) == ("officer", "t1")
    assert len(issued) == 1 and issued[0]["officer"].startswith("cli:")
