"""The pages in a real browser: Debian's Chromium (package ``chromium``, installed by the test
set-up when missing, never downloaded by Playwright), driven by Playwright over loopback.

Signing in through the form, the wall dashboard loading with no console error and no request
leaving loopback, its numbers changing while a batch runs (without a reload), a held batch
approved from the page, a wrong role refused, and the page coming back by itself after the
gateway restarts. Screenshots are kept in ``test-artifacts/browser/`` (CI keeps them).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp.test_utils import TestClient, TestServer

from gateway.http.app import make_app
from mocks.population import sample_ids
from tests.conftest import Gateway, batch_body
from tests.integration.web.conftest import WAIT_MS, Tab


async def signed_in_commander(gateway: Gateway, open_tab: Any) -> Tab:
    wall: Tab = await open_tab(gateway)
    await wall.sign_in("commander-None", await gateway.token("commander", None))
    await wall.page.wait_for_url(f"{wall.base}/dashboard")
    return wall


async def test_the_wall_loads_clean_and_its_numbers_move_while_a_batch_runs(
    gateway: Gateway, tab: Any
) -> None:
    wall = await signed_in_commander(gateway, tab)
    assert await wall.page.title() == "执行指挥中心 · 执行查控联动网关"
    assert await wall.cell("vehicle", "completed") == "0"
    await wall.page.wait_for_selector("#chart canvas")  # uPlot drew the chart
    loads: list[str] = []
    wall.page.on("load", lambda _: loads.append("load"))

    subjects = sample_ids(12, seed=71)
    created = await gateway.submit(batch_body(subjects, agencies=["vehicle", "realestate"]))
    await gateway.wait_finished(created["id"])
    # The events stream brings the twelve answers of each agency; no reload.
    for agency in ("vehicle", "realestate"):
        await wall.page.wait_for_function(
            """([agency, expected]) => document.querySelector(
                 `#agencies tr[data-agency="${agency}"] [data-field="completed"]`
               ).textContent.trim() === expected""",
            arg=[agency, str(len(subjects))],
            timeout=WAIT_MS,
        )
    assert await wall.cell("household", "completed") == "0"
    assert loads == []
    assert await wall.page.text_content("#connection") == "实时"
    await wall.screenshot("dashboard")
    assert wall.errors == []
    assert wall.left_loopback() == []
    assert any(url.endswith("/dashboard/events") for url in wall.requested)


async def test_a_held_batch_is_approved_from_the_page(gateway_factory: Any, tab: Any) -> None:
    gateway: Gateway = await gateway_factory(approval_threshold=3)
    held = await gateway.submit(batch_body(sample_ids(4, seed=72), agencies=["vehicle"]))
    assert held["status"] == "pending_approval"
    wall = await signed_in_commander(gateway, tab)
    item = wall.page.locator(f'#held li[data-batch="{held["id"]}"]')
    await item.wait_for()
    assert await wall.cell("vehicle", "queued") == "0"  # held, not queued, until approved
    await wall.screenshot("held-batch")
    await item.locator("button.approve").click()
    await wall.page.wait_for_url(f"{wall.base}/dashboard")
    await gateway.wait_finished(held["id"])
    await item.wait_for(state="detached", timeout=WAIT_MS)
    async with gateway.pool.acquire() as conn:
        decided = await conn.fetchrow(
            "SELECT officer, detail->>'by' AS by FROM audit_log WHERE action = 'batch.approved'"
        )
        status = await conn.fetchval("SELECT status FROM batches WHERE id = $1", held["id"])
    assert decided is not None and decided["by"] == "commander-None"
    assert status == "done"
    assert wall.errors == []
    assert wall.left_loopback() == []


async def test_an_officer_is_refused_the_wall(gateway: Gateway, tab: Any) -> None:
    page: Tab = await tab(gateway)
    await page.sign_in("officer-team-a", await gateway.token("officer", "team-a"))
    response = await page.page.goto(f"{page.base}/dashboard")
    assert response is not None and response.status == 403
    assert "无权" in (await page.page.text_content("main") or "")
    await page.screenshot("refused")
    # and a wrong token is not signed in at all
    stranger: Tab = await tab(gateway)
    await stranger.sign_in("commander-None", "gw_not-a-token")
    assert await stranger.page.is_visible("#sign-in-failed")
    assert urlsplit(stranger.page.url).path == "/login"


async def test_the_wall_comes_back_by_itself_after_the_gateway_restarts(
    gateway: Gateway, tab: Any, database_url: str
) -> None:
    wall = await signed_in_commander(gateway, tab)
    # "connecting" until the first snapshot arrives on the event stream.
    await wall.page.wait_for_selector("#connection:not(.lost)", timeout=WAIT_MS)
    assert await wall.page.text_content("#connection") == "实时"
    port = gateway.client.port
    assert port is not None
    await gateway.client.close()  # the gateway goes away: the wall says it is reconnecting
    await wall.page.wait_for_selector("#connection.lost", timeout=WAIT_MS)
    assert await wall.page.text_content("#connection") == "正在重新连接…"

    # Started again on the same address (the session lives in the database, not the process).
    again = TestClient(
        TestServer(make_app(gateway.settings, database_url), host="127.0.0.1", port=port)
    )
    await again.start_server()
    try:
        await wall.page.wait_for_selector("#connection:not(.lost)", timeout=WAIT_MS)
        assert await wall.page.text_content("#connection") == "实时"
    finally:
        await again.close()
    # The reconnect attempts while the gateway was down are network errors (net::ERR_...),
    # not errors of the page.
    assert [e for e in wall.errors if "net::ERR_" not in e] == []


async def test_the_wall_goes_to_sign_in_once_its_session_has_ended(
    gateway: Gateway, tab: Any
) -> None:
    wall = await signed_in_commander(gateway, tab)
    # "connecting" until the first snapshot arrives on the event stream.
    await wall.page.wait_for_selector("#connection:not(.lost)", timeout=WAIT_MS)
    assert await wall.page.text_content("#connection") == "实时"
    async with gateway.pool.acquire() as conn:
        await conn.execute("UPDATE tokens SET revoked_at = now()")
    # The stream ends, the browser's reconnect is refused (401: EventSource gives up), and
    # the page finds it is no longer signed in.
    await wall.page.wait_for_url(f"{wall.base}/login?next=%2Fdashboard", timeout=WAIT_MS)
    assert await wall.page.is_visible("#sign-in")
