"""Fixtures of the browser tests: Debian's Chromium (installed by the test set-up when missing,
never downloaded by Playwright) driven by Playwright, a fresh browser context per page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Request, async_playwright

from tests.conftest import Gateway
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
