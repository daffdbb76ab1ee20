"""Every caller against every endpoint of the live router: the outcome of each pair is written
down below, and a route missing from the table fails the test, so no endpoint can be added
without deciding who may call it.

Callers: an officer of the batch's team, an officer of another team, a commander, an auditor,
an admin, and no token at all. Each request gets fresh objects to act on (a new batch, officer,
token, case), so the order of the calls changes nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import jsonschema
from aiohttp import web

from gateway.http.roles import allowed_roles
from gateway.http.web.pages import is_page
from mocks.population import sample_ids
from tests.conftest import Gateway
from tests.integration.accountability.helpers import (
    CASE,
    OTHER_CASE,
    GatewayFactory,
    auth,
    batch_body,
    file_case,
    post_batch,
    start,
)

CALLERS = ("officer", "other_team", "commander", "auditor", "admin", "anonymous")
ROLE_OF = {"officer": "officer", "other_team": "officer"}
ADMITTED = "admitted"  # let in: anything but 401, 403 (and never a 500)


def allow(**ok: int | str) -> dict[str, int | str]:
    """The listed callers get their status; every other caller 403, no token 401."""
    return {c: ok.get(c, 401 if c == "anonymous" else 403) for c in CALLERS}


PUBLIC: dict[str, int | str] = dict.fromkeys(CALLERS, 200)
BATCH = "/v1/batches/{batch_id}"
CONTROL = "/v1/controls/{control_id}"
CASE_PATH = "/v1/cases/{case_number}"

#: (method, route) -> caller -> status: the batch API, administration, command centre, ops
OWN: dict[tuple[str, str], dict[str, int | str]] = {
    ("POST", "/v1/batches"): allow(officer=202, other_team=202),
    ("GET", "/v1/batches"): allow(officer=200, other_team=200, commander=200),
    ("GET", BATCH): allow(officer=200, other_team=404, commander=200),
    ("GET", BATCH + "/results"): allow(officer=200, other_team=404),
    ("POST", BATCH + "/cancel"): allow(officer=200, other_team=404),
    ("POST", BATCH + "/approve"): allow(commander=200),
    ("POST", BATCH + "/reject"): allow(commander=200),
    ("GET", "/v1/alerts"): allow(commander=200),
    ("GET", "/v1/stats"): allow(commander=200),
    ("POST", "/v1/teams"): allow(admin=201),
    ("GET", "/v1/teams"): allow(admin=200, commander=200),
    ("POST", "/v1/officers"): allow(admin=201),
    ("GET", "/v1/officers"): allow(admin=200),
    ("POST", "/v1/officers/{name}/tokens"): allow(admin=201),
    ("GET", "/v1/officers/{name}/tokens"): allow(admin=200),
    ("DELETE", "/v1/officers/{name}/tokens"): allow(admin=200),
    ("DELETE", "/v1/tokens/{token_id}"): allow(admin=200),
    ("POST", "/v1/cases"): allow(admin=201),
    ("POST", "/v1/cases/import"): allow(admin=200),
    ("GET", "/v1/cases"): allow(admin=200, commander=200),
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
}
#: other parts of the gateway, checked when present. Where this test cannot build a valid
#: request (a spreadsheet upload), the role only has to be let in: ADMITTED.
OTHERS: dict[tuple[str, str], dict[str, int | str]] = {
    ("GET", "/v1/agencies"): allow(officer=200, other_team=200, commander=200),
    ("POST", BATCH + "/rerun"): allow(officer=ADMITTED, other_team=404),
    ("POST", "/v1/batches/upload"): allow(officer=ADMITTED, other_team=ADMITTED),
    ("GET", BATCH + "/results.xlsx"): allow(officer=200, other_team=404),
    ("GET", "/v1/audit"): allow(auditor=200),
    ("GET", "/v1/audit/head"): allow(auditor=200),
    ("GET", "/v1/audit/verify"): allow(auditor=200),
    # control actions and 终本 (tests/integration/controls): a control "1" does not exist
    ("POST", "/v1/controls"): allow(officer=ADMITTED, other_team=ADMITTED, commander=ADMITTED),
    ("GET", "/v1/controls"): allow(officer=200, other_team=200, commander=200),
    ("GET", CONTROL): allow(officer=404, other_team=404, commander=404),
    ("POST", CONTROL + "/approve"): allow(commander=404),
    ("POST", CONTROL + "/reject"): allow(commander=404),
    ("POST", CONTROL + "/renew"): allow(officer=404, other_team=404, commander=404),
    ("POST", CONTROL + "/release"): allow(officer=404, other_team=404, commander=404),
    ("POST", CASE_PATH + "/closure"): allow(officer=ADMITTED, other_team=404),
    ("POST", CASE_PATH + "/reopen"): allow(officer=ADMITTED, other_team=404),
    ("GET", CASE_PATH + "/history"): allow(officer=200, other_team=404, commander=200),
}
MATRIX = {**OWN, **OTHERS}
#: further audit-log routes: the auditor's alone, whatever their parameters
AUDIT_PREFIX = "/v1/audit"


def expected(method: str, path: str) -> dict[str, int | str]:
    if (method, path) in MATRIX:
        return dict(MATRIX[(method, path)])
    if path.startswith(AUDIT_PREFIX):
        return allow(auditor=ADMITTED)
    raise AssertionError(f"{method} {path} is not in the authorization matrix: add it")


class Fixtures:
    """Fresh objects for each request, so no call depends on another's effects."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.numbers = itertools.count(1000)
        self.people = iter(sample_ids(400, seed=77))

    async def batch(self) -> str:
        """A batch of team-a, held for approval (so approve, reject and cancel all apply)."""
        body = batch_body([next(self.people), next(self.people)], case=CASE)
        response = await post_batch(self.gateway, body)
        assert response.status == 202, await response.text()
        return str((await response.json())["id"])

    async def officer(self) -> str:
        name = f"matrix-{next(self.numbers)}"
        await self.gateway.token("officer", "team-a", name)
        return name

    async def token_id(self) -> str:
        name = await self.officer()
        async with self.gateway.pool.acquire() as conn:
            return str(
                await conn.fetchval(
                    "SELECT max(k.id) FROM tokens k JOIN officers o "
                    "ON o.id = k.officer_id WHERE o.name = $1",
                    name,
                )
            )

    async def request(self, caller: str, method: str, path: str) -> dict[str, Any]:
        """Path (parameters filled in) and body for one call."""
        n = next(self.numbers)
        params: dict[str, str] = {}
        if "{batch_id}" in path:
            params["batch_id"] = await self.batch()
        if "{name}" in path:
            params["name"] = await self.officer()
        if "{token_id}" in path:
            params["token_id"] = await self.token_id()
        if "{case_number}" in path:
            params["case_number"] = CASE
        for name in ("{seq}", "{id}", "{record_id}", "{control_id}"):
            if name in path:
                params[name.strip("{}")] = "1"
        url = path.format(**params)
        bodies: dict[tuple[str, str], Any] = {
            ("POST", "/v1/batches"): batch_body(
                [next(self.people)], case=OTHER_CASE if caller == "other_team" else CASE
            ),
            ("POST", "/v1/teams"): {"name": f"team-{n}"},
            ("POST", "/v1/officers"): {"name": f"new-{n}", "role": "officer", "team": "team-a"},
            ("POST", "/v1/cases"): {"case_number": f"（2022）吉03执{n}号", "team": "team-a"},
        }
        kwargs: dict[str, Any] = {}
        if (method, path) in bodies:
            kwargs["json"] = bodies[(method, path)]
        if path == "/v1/cases/import":
            kwargs["data"] = f"case_number,team\n（2021）吉03执{n}号,team-a\n".encode()
        return {"path": url, **kwargs}


async def headers_of(gateway: Gateway, caller: str) -> dict[str, str]:
    if caller == "anonymous":
        return {}
    if caller == "other_team":
        return await auth(gateway, "officer", "team-b")
    if caller == "officer":
        return await auth(gateway, "officer", "team-a")
    return await auth(gateway, caller)


async def test_every_caller_against_every_endpoint(gateway_factory: GatewayFactory) -> None:
    gateway = await start(gateway_factory, dispatch=False, approval_threshold=1, requery_days=0)
    await file_case(gateway, CASE, "team-a")
    await file_case(gateway, OTHER_CASE, "team-b")
    fixtures = Fixtures(gateway)
    app: web.Application = gateway.client.app
    routes = sorted(
        {
            (r.method, r.resource.canonical, r.handler)
            for r in app.router.routes()
            # web pages sign in with a session, not a token (tests/integration/web)
            if r.method != "HEAD" and r.resource is not None and not is_page(r.handler)
        },
        key=lambda r: (r[1], r[0]),
    )
    assert set(OWN) <= {(method, path) for method, path, _ in routes}
    document = await (await gateway.client.get("/openapi.json")).json()
    failures: list[str] = []
    call: Callable[..., Awaitable[Any]] = gateway.client.request
    for method, path, handler in routes:
        outcomes = expected(method, path)
        declared = set(allowed_roles(handler) or ())
        # The table and the code's @roles must say the same thing.
        admitted = {
            ROLE_OF.get(c, c)
            for c, status in outcomes.items()
            if c != "anonymous" and status not in (401, 403)
        }
        if "public" not in declared and admitted != declared:
            failures.append(f"{method} {path}: table admits {admitted}, @roles {declared}")
        for caller in CALLERS:
            request = await fixtures.request(caller, method, path)
            url = request.pop("path")
            response = await call(method, url, headers=await headers_of(gateway, caller), **request)
            want = outcomes[caller]
            ok = (
                response.status not in (401, 403, 500)
                if want == ADMITTED
                else response.status == want
            )
            if not ok:
                failures.append(f"{caller} {method} {url}: {response.status}, expected {want}")
            if response.status >= 400:
                body = await response.json()
                assert body["error"]["code"], (caller, method, url)
            elif (method, path) in OWN and path not in ("/metrics", "/openapi.json"):
                # What the OpenAPI document promises for this answer, it gets.
                schema = document_schema(document, method, path, response.status)
                jsonschema.validate(await response.json(), schema)
    assert failures == []


def document_schema(document: dict[str, Any], method: str, path: str, status: int) -> Any:
    answer = document["paths"][path][method.lower()]["responses"][str(status)]
    return {**answer["content"]["application/json"]["schema"], **document}
