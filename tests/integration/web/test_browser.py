"""The pages in a real browser: Debian's Chromium (package ``chromium``, installed by the test
set-up when missing, never downloaded by Playwright), driven by Playwright over loopback.

Signing in through the form, the wall dashboard loading with no console error and no request
leaving loopback, its numbers changing while a batch runs (without a reload), a held batch
approved from the page, a wrong role refused, and the page coming back by itself after the
gateway restarts. Screenshots are kept in ``test-artifacts/browser/`` (CI keeps them).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Browser, ConsoleMessage, Page, Request, async_playwright

from gateway.http.app import make_app
from mocks.population import sample_ids
from tests.conftest import Gateway, batch_body
from tests.system_packages import require

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "browser"
#: what the workplace's probe found Chromium needs on a closed network: no background
#: connections (each refused, many at a time), no sandbox as root, no GPU
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
#: a Chinese font for the screenshots (the pages name no web font: they load nothing from
#: the internet and use what the wall's own machine has); without one they show empty boxes
CHINESE_FONT = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "fonts-wqy-microhei")
#: the wall refreshes every two seconds; a number that has not changed in this long never will
WAIT_MS = 30_000


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    chromium = require("chromium", "chromium")
    require(*CHINESE_FONT)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@dataclass
class Tab:
    """A page in a fresh browser context (no cookies), with what it complained of and every
    address it asked for."""

    page: Page
    base: str
    errors: list[str] = field(default_factory=list[str])
    requested: list[str] = field(default_factory=list[str])

    def watch(self) -> None:
        def console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.errors.append(message.text)

        def request(sent: Request) -> None:
            self.requested.append(sent.url)

        self.page.on("console", console)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", request)

    def left_loopback(self) -> list[str]:
        return [url for url in self.requested if urlsplit(url).hostname not in LOOPBACK]

    async def sign_in(self, officer: str, token: str) -> None:
        await self.page.goto(f"{self.base}/login")
        await self.page.fill("#officer", officer)
        await self.page.fill("#token", token)
        await self.page.click("#sign-in")

    async def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    async def cell(self, agency: str, name: str) -> str:
        selector = f'#agencies tr[data-agency="{agency}"] [data-field="{name}"]'
        return (await self.page.text_content(selector) or "").strip()


@pytest.fixture
async def tab(browser: Browser) -> AsyncIterator[Any]:
    contexts: list[Any] = []

    async def open_tab(gateway: Gateway) -> Tab:
        # A wall screen's size: the page must read from across a room, so it is tested there.
        context = await browser.new_context(viewport={"width": 1920, "height": 1080})
        contexts.append(context)
        opened = Tab(await context.new_page(), str(gateway.client.make_url("")).rstrip("/"))
        opened.watch()
        return opened

    yield open_tab
    for context in contexts:
        await context.close()


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
    await wall.page.wait_for_function(
        "document.querySelector('#connection').textContent === '实时'", timeout=WAIT_MS
    )
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
    # The stream cut at shutdown and the reconnect attempts while the gateway was down are
    # network errors (net::ERR_...), not errors of the page.
    assert [e for e in wall.errors if "net::ERR_" not in e] == []


async def test_the_wall_goes_to_sign_in_once_its_session_has_ended(
    gateway: Gateway, tab: Any
) -> None:
    wall = await signed_in_commander(gateway, tab)
    await wall.page.wait_for_function(
        "document.querySelector('#connection').textContent === '实时'", timeout=WAIT_MS
    )
    async with gateway.pool.acquire() as conn:
        await conn.execute("UPDATE tokens SET revoked_at = now()")
    # The stream ends, the browser's reconnect is refused (401: EventSource gives up), and
    # the page finds it is no longer signed in.
    await wall.page.wait_for_url(f"{wall.base}/login?next=%2Fdashboard", timeout=WAIT_MS)
    assert await wall.page.is_visible("#sign-in")
