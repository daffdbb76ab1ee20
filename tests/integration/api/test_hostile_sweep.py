"""The sweep: a set of hostile inputs thrown at every route of the live application, as each
role allowed to call it (and the others); every answer is below 500 and a JSON 4xx.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from gateway.http.roles import allowed_roles
from gateway.http.web.pages import is_page
from tests.conftest import CASE, Gateway, batch_body
from tests.integration.api.hostile import (
    DEEP,
    SOME_UUID,
    b64,
    raw_http,
)

# ---------------------------------------------------------------- the sweep

#: bodies that are not what any route takes
BODIES: list[bytes] = [
    b"",
    b"   ",
    b"{not json",
    b"\xff\xfe\x00{",
    DEEP,
    b'{"a": ' * 50_000 + b"1" + b"}" * 50_000,
    b"null",
    b"[]",
    b'"\\ud800"',
    b'{"\\ud800": 1}',
    b"9" * 5000,
    b"1e999999",
    b"NaN",
    b'{"a": 1, "a": 2}',
    json.dumps({"x" * 1000: 1}).encode(),
]

#: values every field is given in turn (wrong types, huge numbers, hostile text)
VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    1.5,
    10**30,
    float("inf"),
    "",
    " ",
    "\ud800x",
    "a\x00b",
    "\u200b",
    "x" * 100_000,
    "9" * 5000,
    [],
    {},
    [[[[[]]]]],
    {"a": {"b": None}},
]

#: a valid body for each route that takes JSON; each field of it is replaced by each value
TEMPLATES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/batches"): {**batch_body(n=2), "requery_reason": "复查"},
    ("POST", "/v1/teams"): {"name": "sweep-team"},
    ("POST", "/v1/officers"): {"name": "sweep-officer", "role": "officer", "team": "team-a"},
    ("POST", "/v1/officers/{name}/tokens"): {"expires_in_days": 1},
    ("POST", "/v1/cases"): {"case_number": CASE, "team": "team-a"},
    ("POST", "/v1/batches/{batch_id}/approve"): {"note": "ok"},
    ("POST", "/v1/batches/{batch_id}/reject"): {"note": "no"},
}

#: query parameters every GET route is given, with values for each
QUERY: dict[str, list[str]] = {
    "limit": ["0", "-1", "501", "²", "١٢", "１２", "9" * 5000, "", "1e3", "\x00"],
    "cursor": [
        "%%%",
        "",
        "=" * 5,
        "a" * 5000,
        b64("9" * 30),
        b64("0"),
        b64(f"seq:{'9' * 30}"),
        b64(f"0001-01-01T00:00:00+14:00|{SOME_UUID}"),
        b64(f"9999-12-31T23:59:59-14:00|{SOME_UUID}"),
        b64("9999-12-31T23:59:59-14:00|1"),
        b64("2024-01-01T00:00:00|1"),
        b64(b"\xff\xfe"),
        b64("a\x00b"),
    ],
    "time": [
        "0001-01-01",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "٢٠٢٤-٠١-٠١",
        "2024-13-01",
        "2024-01-01T00:00:00+99:00",
        "",
        "x" * 1000,
    ],
    "text": ["", "\x00", "x" * 5000, "１２", "\u200b", "9" * 5000],
}
TIME_NAMES = ("from", "to", "since", "until")
TEXT_NAMES = ("kind", "team", "officer", "batch_id", "batch", "subject", "case", "expect_head")

#: path parameter values (already percent-encoded where needed)
PATH_VALUES = [
    "not-a-uuid",
    "%00",
    "%FF%FE",
    "%ED%A0%80",  # a surrogate, UTF-8 encoded: not valid UTF-8
    "x" * 3000,
    "%EF%BC%91%EF%BC%92",  # full-width 12
    "99999999999999999999",
    "-1",
    "0",
    "00000000-0000-0000-0000-000000000000",
    "%2F",
    "..",
    "a%20b",
    "%5Cu0000",
]


class Sweep:
    """The live routes, a token for each role, and a record of every bad answer."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.failures: list[tuple[Any, ...]] = []
        self.requests = 0

    async def setup(self) -> None:
        gateway = self.gateway
        self.batch = await gateway.submit(batch_body(n=2, agencies=["household"]))
        # a target officer whose tokens the sweep may revoke freely
        await gateway.token("officer", "team-b", officer="sweep-target")
        self.routes = []
        #: web pages answer a refusal as a page (HTML), not as the API's JSON error
        self.pages: set[str] = set()
        for route in gateway.client.app.router.routes():
            if route.method == "HEAD" or route.resource is None:
                continue
            roles = allowed_roles(route.handler) or ("public",)
            self.routes.append((route.method, route.resource.canonical, roles))
            if is_page(route.handler):
                self.pages.add(route.resource.canonical)
        assert len(self.routes) >= 25  # every module's routes are there

    def path(self, template: str, **values: str) -> str:
        defaults = {
            "batch_id": self.batch["id"],
            "name": "sweep-target",
            "token_id": "999999999",
        }
        path = template
        for name, default in defaults.items():
            path = path.replace("{" + name + "}", values.get(name, default))
        return path

    async def headers(self, role: str) -> dict[str, str]:
        if role == "public":
            return {}
        return await self.gateway.headers(role, "team-a" if role == "officer" else None)

    async def check(
        self, method: str, path: str, role: str, label: str, **kwargs: Any
    ) -> tuple[int, Any]:
        self.requests += 1
        headers = {**await self.headers(role), **kwargs.pop("headers", {})}
        response = await self.gateway.client.request(method, path, headers=headers, **kwargs)
        raw = await response.read()
        status = response.status
        if status >= 500 and not (path == "/readyz" and status == 503):
            self.failures.append((method, path[:80], role, label, status, raw[:300]))
            return status, None
        page = any(path.split("?")[0] == self.path(p) for p in self.pages) or path.startswith(
            "/static/"
        )
        if status >= 400 and page:
            if not raw:
                self.failures.append((method, path[:80], role, label, status, raw[:300]))
        elif status >= 400:
            try:
                error = json.loads(raw)["error"]
                assert error["code"] and error["message"]
            except (ValueError, KeyError, TypeError, AssertionError):
                self.failures.append((method, path[:80], role, label, status, raw[:300]))
        return status, raw


@pytest.fixture
async def sweep(gateway: Gateway) -> Sweep:
    sweep = Sweep(gateway)
    await sweep.setup()
    return sweep


async def test_sweep_bodies(sweep: Sweep) -> None:
    for method, template, roles in sweep.routes:
        if method not in ("POST", "PUT", "PATCH", "DELETE"):
            continue
        for role in roles:
            for body in BODIES:
                await sweep.check(
                    method,
                    sweep.path(template),
                    role,
                    f"body {body[:20]!r}",
                    data=body,
                    headers={"Content-Type": "application/json"},
                )
    assert sweep.failures == []
    assert sweep.requests >= 100


def _mutations(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for field in template:
        for value in VALUES:
            out.append((f"{field}={value!r:.30}", {**template, field: value}))
    if "subjects" in template:
        first = template["subjects"][0]
        for field in first:
            for value in VALUES:
                subjects = [{**first, field: value}, *template["subjects"][1:]]
                out.append((f"subjects.{field}={value!r:.30}", {**template, "subjects": subjects}))
        for value in VALUES:
            out.append((f"subjects[0]={value!r:.30}", {**template, "subjects": [value]}))
    return out


async def test_sweep_field_types(sweep: Sweep) -> None:
    """Every field of every JSON body given every wrong type and hostile value."""
    covered = set()
    for method, template, roles in sweep.routes:
        if (method, template) not in TEMPLATES:
            continue
        covered.add((method, template))
        for role in roles:
            for label, body in _mutations(TEMPLATES[(method, template)]):
                # json.dumps: surrogates escaped, inf written as Infinity (Python reads it)
                data = json.dumps(body).encode()
                await sweep.check(
                    method,
                    sweep.path(template),
                    role,
                    label,
                    data=data,
                    headers={"Content-Type": "application/json"},
                )
    assert covered == set(TEMPLATES)
    assert sweep.failures == []
    assert sweep.requests >= 100


async def test_sweep_query_parameters(sweep: Sweep) -> None:
    for method, template, roles in sweep.routes:
        if method != "GET":
            continue
        path = sweep.path(template)
        role = roles[0]
        for name, values in (
            ("limit", QUERY["limit"]),
            ("cursor", QUERY["cursor"]),
            *((name, QUERY["time"]) for name in TIME_NAMES),
            *((name, QUERY["text"]) for name in TEXT_NAMES),
        ):
            for value in values:
                query = f"{name}={quote(value, safe='')}"
                await sweep.check(method, f"{path}?{query}", role, query[:40])
            await sweep.check(method, f"{path}?{name}=%FF%FE", role, f"{name}=%FF%FE")
        await sweep.check(method, f"{path}?limit=1&limit=2&cursor=a&cursor=b", role, "repeats")
    assert sweep.failures == []
    assert sweep.requests >= 100


async def test_sweep_path_parameters(sweep: Sweep) -> None:
    for method, template, roles in sweep.routes:
        if "{" not in template:
            continue
        for role in roles:
            for value in PATH_VALUES:
                path = sweep.path(template, batch_id=value, name=value, token_id=value)
                await sweep.check(method, path, role, f"path {value[:20]}")
    assert sweep.failures == []
    assert sweep.requests >= 100


async def test_sweep_headers_and_roles(sweep: Sweep) -> None:
    """Every route with no token, a garbage token, raw bytes in headers, and every role."""
    gateway = sweep.gateway
    odd_headers = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer gw_" + "x" * 5000},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Idempotency-Key": "x" * 500},
        {"Idempotency-Key": "é"},
        {"Content-Type": "multipart/form-data"},  # no boundary
        {"Content-Type": "multipart/form-data; boundary=" + "b" * 100},
        {"Content-Type": "application/json; charset=foo"},
    ]
    for method, template, roles in sweep.routes:
        path = sweep.path(template)
        for headers in odd_headers:
            role = roles[0] if "Authorization" not in headers else "public"
            await sweep.check(method, path, role, f"headers {headers}"[:40], headers=headers)
        for role in ("officer", "commander", "auditor", "admin"):
            await sweep.check(method, path, role, f"as {role}", data=b"{}")
        for raw in (
            b"Authorization: Bearer \xff\xfe",
            b"X-Request-Id: \xff\xfe",
            b"Idempotency-Key: \xff\xfe",
            b"Authorization: Bearer gw_\xc3\xa9",
        ):
            status, _, body = await raw_http(
                gateway,
                method.encode()
                + b" "
                + path.encode()
                + b" HTTP/1.1\r\nHost: x\r\n"
                + raw
                + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            sweep.requests += 1
            if status >= 500 and path != "/readyz":
                sweep.failures.append((method, path, "raw", raw, status, body[:300]))
    assert sweep.failures == []
    assert sweep.requests >= 100


async def test_sweep_bodies_that_are_not_their_content_encoding(sweep: Sweep) -> None:
    """A compressed body, or one that says it is and is not: a JSON 415 on every route, and the
    connection closes (the rest of the stream cannot be trusted), never a 500."""
    kinds = (
        "application/json",
        "multipart/form-data; boundary=B",
        "application/x-www-form-urlencoded",
    )
    refused = 0
    for method, template, roles in sweep.routes:
        if method != "POST":
            continue
        for role in roles:
            for encoding in ("gzip", "deflate"):
                for kind in kinds:
                    headers = {"Content-Type": kind, "Content-Encoding": encoding}
                    status, raw = await sweep.check(
                        method,
                        sweep.path(template),
                        role,
                        f"{encoding} {kind}"[:40],
                        data=b"this is not compressed",
                        headers=headers,
                    )
                    if status == 415 and b"Content-Encoding" in (raw or b""):
                        refused += 1
    assert sweep.failures == []
    assert refused == sweep.requests  # every one refused for what it is, whatever the route
