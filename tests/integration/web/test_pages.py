"""The web pages over HTTP (the browser tests drive the same pages in Chromium): signing in
with a name and token gives an HttpOnly, SameSite=Strict session cookie; every form needs the
session's CSRF token; the roles are the API's; signing out, or revoking the token, ends the
session; the dashboard's numbers come from the database and its event stream sends them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import ClientPayloadError, ClientResponse
from aiohttp.test_utils import TestClient

from gateway.http.web import dashboard
from mocks.population import sample_ids
from tests.conftest import Gateway, batch_body

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def sign_in(client: TestClient[Any, Any], officer: str, token: str) -> ClientResponse:
    form = await client.get("/login")
    assert form.status == 200
    login_csrf = CSRF.search(await form.text())
    assert login_csrf is not None
    return await client.post(
        "/login",
        data={"officer": officer, "token": token, "csrf_token": login_csrf.group(1)},
        allow_redirects=False,
    )


async def commander(gateway: Gateway) -> TestClient[Any, Any]:
    token = await gateway.token("commander", None)
    response = await sign_in(gateway.client, "commander-None", token)
    assert response.status == 303 and response.headers["Location"] == "/dashboard"
    return gateway.client


async def test_signing_in_gives_a_strict_http_only_session_cookie(gateway: Gateway) -> None:
    token = await gateway.token("commander", None)
    response = await sign_in(gateway.client, "commander-None", token)
    assert response.status == 303
    cookie = response.cookies["gw_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["max-age"] == "28800"
    page = await gateway.client.get("/dashboard")
    assert page.status == 200
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    text = await page.text()
    assert "执行指挥中心" in text  # Chinese by default
    english = await gateway.client.get("/dashboard?lang=en")
    assert "Enforcement command centre" in await english.text()
    async with gateway.pool.acquire() as conn:
        audited = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'web.signed_in' "
            "AND officer = 'commander-None'"
        )
        stored = await conn.fetchval("SELECT id_hash FROM web_sessions")
    assert audited == 1
    assert bytes(stored) != cookie.value.encode()  # only a hash of the cookie is kept


async def test_a_wrong_token_or_a_token_of_someone_else_is_refused(gateway: Gateway) -> None:
    officer_token = await gateway.token("officer", "team-a")
    for name, token in (("commander-None", "gw_wrong"), ("commander-None", officer_token)):
        response = await sign_in(gateway.client, name, token)
        assert response.status == 401
        assert "gw_session" not in response.cookies
    # without the sign-in form's own CSRF token: refused too
    response = await gateway.client.post(
        "/login", data={"officer": "officer-team-a", "token": officer_token}
    )
    assert response.status == 401


async def test_no_session_goes_to_sign_in_and_a_wrong_role_is_refused(gateway: Gateway) -> None:
    response = await gateway.client.get("/dashboard", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].startswith("/login?next=")
    events = await gateway.client.get("/dashboard/events")
    assert events.status == 401
    token = await gateway.token("officer", "team-a")
    assert (await sign_in(gateway.client, "officer-team-a", token)).status == 303
    refused = await gateway.client.get("/dashboard")
    assert refused.status == 403
    assert "无权" in await refused.text()


async def test_forms_need_the_session_csrf_token(gateway: Gateway) -> None:
    client = await commander(gateway)
    held = await gateway.submit(batch_body(n=2), team="team-a")
    response = await client.post(f"/dashboard/batches/{held['id']}/reject", data={})
    assert response.status == 403
    response = await client.post(
        f"/dashboard/batches/{held['id']}/reject", data={"csrf_token": "forged"}
    )
    assert response.status == 403
    response = await client.post("/logout", data={}, allow_redirects=False)
    assert response.status == 403  # signing out is a form too


async def test_signing_out_or_revoking_the_token_ends_the_session(gateway: Gateway) -> None:
    client = await commander(gateway)
    csrf = CSRF.search(await (await client.get("/dashboard")).text())
    assert csrf is not None
    out = await client.post("/logout", data={"csrf_token": csrf.group(1)}, allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/login"
    assert (await client.get("/dashboard", allow_redirects=False)).status == 303
    # A fresh session, then the commander's token is revoked: the page is closed to it.
    client = await commander(gateway)
    assert (await client.get("/dashboard")).status == 200
    async with gateway.pool.acquire() as conn:
        await conn.execute("UPDATE tokens SET revoked_at = now()")
    assert (await client.get("/dashboard", allow_redirects=False)).status == 303


async def test_the_dashboard_shows_what_the_database_holds(
    gateway_factory: Any, mocks: Any
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    gateway = await gateway_factory(approval_threshold=3, clock=lambda: now)
    running = await gateway.submit(batch_body(sample_ids(2, seed=61), agencies=["vehicle"]))
    held = await gateway.submit(
        batch_body(sample_ids(4, seed=62), agencies=["household"]), team="team-b"
    )
    assert held["status"] == "pending_approval"
    await gateway.wait_finished(running["id"])
    client = await commander(gateway)
    page = await client.get("/dashboard")
    text = await page.text()
    initial = re.search(r'<script type="application/json" id="initial">(.*?)</script>', text, re.S)
    assert initial is not None
    data = json.loads(initial.group(1))
    # The wall shows the courts' time (Asia/Shanghai, UTC+8 all year), not UTC.
    local = (now + timedelta(hours=8)).strftime("%H:%M:%S")
    assert f'<span id="updated">{local}</span>' in text
    # Not "live" before the event stream has brought anything.
    assert '<span id="connection" class="connection lost">正在连接…</span>' in text
    assert [b["id"] for b in data["batches"]] == [held["id"]]  # the finished one is not open
    assert data["batches"][0]["status"] == "pending_approval"
    assert sum(data["throughput"]["series"]["vehicle"]) == 2  # two vehicle answers this hour
    assert data["throughput"]["offset"] == 8 * 3600  # Asia/Shanghai, the default court zone
    assert f'action="/dashboard/batches/{held["id"]}/approve"' in text
    async with client.get("/dashboard/events") as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        event = b""
        while b"\r\n\r\n" not in event:  # aiohttp-sse ends lines with CR LF
            event += await stream.content.readany()
    lines = event.decode().split("\r\n")
    assert "event: snapshot" in lines
    sent = json.loads(next(line for line in lines if line.startswith("data: "))[6:])
    assert sent["batches"] == data["batches"]
    # Approving from the page queues the batch and audits it under the commander.
    csrf = CSRF.search(text)
    assert csrf is not None
    decided = await client.post(
        f"/dashboard/batches/{held['id']}/approve",
        data={"csrf_token": csrf.group(1)},
        allow_redirects=False,
    )
    assert decided.status == 303
    await gateway.wait_finished(held["id"])
    async with gateway.pool.acquire() as conn:
        by = await conn.fetchval(
            "SELECT detail->>'by' FROM audit_log WHERE action = 'batch.approved'"
        )
    assert by == "commander-None"


async def test_static_files_come_from_the_gateway_and_nothing_else(gateway: Gateway) -> None:
    for path, kind in (
        ("/static/app.css", "text/css"),
        ("/static/dashboard.js", "text/javascript"),
        ("/static/vendor/uplot-1.6.32/uPlot.iife.min.js", "text/javascript"),
    ):
        response = await gateway.client.get(path)
        assert response.status == 200 and response.headers["Content-Type"].startswith(kind)
    for path in (
        "/static/../pages.py",
        "/static/%2e%2e/pages.py",
        "/static/missing.js",
        "/static/%00",  # no file name holds a NUL
        "/static/" + "a" * 300,  # longer than a file name may be
    ):
        response = await gateway.client.get(path)
        assert response.status == 404, path
        assert (await response.json())["error"]["code"] == "not_found"


async def test_sign_in_sends_only_to_a_path_of_this_site(gateway: Gateway) -> None:
    token = await gateway.token("commander", None)
    for target in ("//evil.example", "/\\evil.example", "https://evil.example/", "/a\r\nX: y"):
        client = gateway.client
        client.session.cookie_jar.clear()
        form = await client.get("/login", params={"next": target})
        found = CSRF.search(await form.text())
        assert found is not None
        response = await client.post(
            "/login",
            params={"next": target},
            data={"officer": "commander-None", "token": token, "csrf_token": found.group(1)},
            allow_redirects=False,
        )
        assert response.status == 303
        assert response.headers["Location"] == "/dashboard", target  # the role's home instead


async def test_a_csrf_token_that_is_not_ascii_is_refused_not_a_server_error(
    gateway: Gateway,
) -> None:
    response = await gateway.client.post(
        "/login",
        data={"officer": "commander-None", "token": "gw_x", "csrf_token": "é"},
        cookies={"gw_login_csrf": "ü"},
    )
    assert response.status == 401
    client = await commander(gateway)
    held = await gateway.submit(batch_body(n=2), team="team-a")
    refused = await client.post(f"/dashboard/batches/{held['id']}/reject", data={"csrf_token": "é"})
    assert refused.status == 403


async def test_the_event_stream_ends_with_the_session(gateway: Gateway) -> None:
    client = await commander(gateway)
    async with client.get("/dashboard/events") as stream:
        assert "default-src 'self'" in stream.headers["Content-Security-Policy"]
        assert stream.headers["X-Content-Type-Options"] == "nosniff"
        first = b""
        while b"\r\n\r\n" not in first:
            first += await stream.content.readany()
        async with gateway.pool.acquire() as conn:
            await conn.execute("UPDATE tokens SET revoked_at = now()")
        # The server ends the stream at its next turn: reading runs to the end.
        rest = await asyncio.wait_for(stream.content.read(), 30)
    assert rest.count(b"event: snapshot") <= 1  # at most the one already on its way
    assert (await client.get("/dashboard/events")).status == 401


async def test_shutdown_ends_the_open_streams_and_refuses_new_ones(gateway: Gateway) -> None:
    client = await commander(gateway)
    async with client.get("/dashboard/events") as stream:
        first = b""
        while b"\r\n\r\n" not in first:
            chunk = await stream.content.readany()
            assert chunk, "the stream ended before its first snapshot"
            first += chunk
        await client.app.shutdown()  # what the runner calls first when the gateway stops
        await asyncio.wait_for(stream.content.read(), 30)  # the open stream ends
    # A stream whose request was already past the session check when shutdown began must not
    # begin: it would stream on and hold the shutdown up. Asked now, it is refused.
    refused = await client.get("/dashboard/events")
    assert refused.status == 503
    assert (await refused.json())["error"]["code"] == "shutting_down"


async def test_shutdown_cuts_a_stream_stuck_in_its_snapshot(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream that cannot end by itself (its snapshot waits on a database that does not
    answer) is cut after a short while: it must not hold the shutdown for aiohttp's minute."""
    client = await commander(gateway)
    original = dashboard.snapshot
    answered, stuck = asyncio.Event(), asyncio.Event()

    async def snapshot_then_stuck(app: Any) -> dict[str, Any]:
        if answered.is_set():
            stuck.set()
            await asyncio.Event().wait()  # never answered
        answered.set()
        return await original(app)

    monkeypatch.setattr(dashboard, "snapshot", snapshot_then_stuck)
    async with client.get("/dashboard/events") as stream:
        first = await stream.content.readuntil(b"\r\n\r\n")
        assert b"event: snapshot" in first
        await asyncio.wait_for(stuck.wait(), 30)  # the next one, REFRESH_SECONDS later
        await client.app.shutdown()
        with contextlib.suppress(ClientPayloadError):  # cut, not ended
            await asyncio.wait_for(stream.content.read(), 30)


async def officer_of(gateway: Gateway, team: str) -> tuple[TestClient[Any, Any], str]:
    """A client signed in as the team's officer, and the session's CSRF token."""
    client = gateway.client
    client.session.cookie_jar.clear()
    token = await gateway.token("officer", team)
    assert (await sign_in(client, f"officer-{team}", token)).status == 303
    page = await client.get("/batches")
    assert page.status == 200
    found = CSRF.search(await page.text()) or re.search(
        r'name="csrf-token" content="([^"]+)"', await page.text()
    )
    assert found is not None
    return client, found.group(1)


async def test_the_officers_pages_need_the_csrf_token_and_keep_to_the_team(
    gateway: Gateway,
) -> None:
    other = await gateway.submit(batch_body(n=2), team="team-b")
    client, csrf = await officer_of(gateway, "team-a")
    own = await gateway.submit(batch_body(n=2, seed=5), team="team-a")
    # Every POST of the page needs the session's token (a header from the page's script).
    for path in ("/batches/upload", f"/batches/{own['id']}/cancel", f"/batches/{own['id']}/rerun"):
        assert (await client.post(path)).status == 403, path
        forged = await client.post(path, headers={"X-CSRF-Token": "forged"})
        assert forged.status == 403, path
    # Another team's batch is not there at all, whichever page asks.
    for method, path in (
        ("GET", f"/batches/{other['id']}"),
        ("GET", f"/batches/{other['id']}/progress"),
        ("GET", f"/batches/{other['id']}/results.xlsx"),
        ("POST", f"/batches/{other['id']}/cancel"),
    ):
        response = await client.request(method, path, headers={"X-CSRF-Token": csrf})
        assert response.status == 404, (method, path)
    # The team's own batch: progress as the API's, cancel with the token.
    progress = await client.get(f"/batches/{own['id']}/progress")
    assert progress.status == 200 and (await progress.json())["id"] == own["id"]
    listed = await client.get("/batches")
    assert own["case_number"] in await listed.text() and other["id"] not in await listed.text()
    # A commander has no officer's page.
    client.session.cookie_jar.clear()
    commander_token = await gateway.token("commander", None)
    assert (await sign_in(client, "commander-None", commander_token)).status == 303
    assert (await client.get("/batches")).status == 403


async def test_behind_https_both_cookies_are_secure(gateway_factory: Any) -> None:
    gateway: Gateway = await gateway_factory(web_secure_cookies=True)
    form = await gateway.client.get("/login")
    assert form.cookies["gw_login_csrf"]["secure"]
    token = await gateway.token("commander", None)
    # The test client speaks plain HTTP, so it keeps no Secure cookie: the form's token is
    # sent back by hand, as a browser on HTTPS would.
    login_csrf = CSRF.search(await form.text())
    assert login_csrf is not None
    response = await gateway.client.post(
        "/login",
        data={"officer": "commander-None", "token": token, "csrf_token": login_csrf.group(1)},
        cookies={"gw_login_csrf": form.cookies["gw_login_csrf"].value},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.cookies["gw_session"]["secure"]


async def test_the_officers_pages_show_times_in_the_courts_time_zone(gateway: Gateway) -> None:
    own = await gateway.submit(batch_body(n=1, seed=9), team="team-a")
    client, _ = await officer_of(gateway, "team-a")
    utc = datetime.fromisoformat(own["created_at"]).astimezone(UTC)
    # Asia/Shanghai (the default GATEWAY_TIMEZONE) is UTC+8 all year, with no summer time.
    shown = (utc + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    as_utc = utc.strftime("%Y-%m-%d %H:%M")
    for path in ("/batches", f"/batches/{own['id']}"):
        text = await (await client.get(path)).text()
        assert shown in text, path
        assert as_utc not in text, path
