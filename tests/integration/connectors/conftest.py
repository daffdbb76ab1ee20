"""Fixtures for the connector suite: all six mocks in-process (zero latency), one client session.

The mocks (``agency_mocks``, named apart from the gateway suite's ``mocks``) start once per
session; ``clean_mocks`` puts them back to their start-up configuration around each test, so
tests may set faults and limits freely.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from connectors.base import Connector, Requester, Subject
from connectors.registry import connector_classes
from mocks.population import kind_of, sample_ids
from mocks.testing import RunningMocks, running_mocks

REQUESTER = Requester(
    officer="吉03执法官张明",
    team="执行一庭一组",
    case_number="(2024)吉0302执123号",
    batch_id="b-0001",
)
#: ``connect("vehicle", timeout=0.3)`` -> a connector aimed at the running stand-in
Connect = Callable[..., Connector]
FakeHandler = Callable[[web.Request], Awaitable[web.Response]]
#: a fixed sample of people and a few organisations, the same in every run
SAMPLE: list[tuple[str, str]] = sample_ids(120, seed=7, organisations=0.05)


def subject(name: str, id_number: str) -> Subject:
    kind = kind_of(id_number)
    assert kind is not None
    return Subject(name=name, id_number=id_number, kind=kind)


def subjects(pairs: list[tuple[str, str]]) -> list[Subject]:
    return [subject(name, id_number) for name, id_number in pairs]


@pytest_asyncio.fixture(scope="session")
async def agency_mocks() -> AsyncIterator[RunningMocks]:
    async with running_mocks(latency="zero") as running:
        yield running


@pytest_asyncio.fixture(scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(autouse=True)
def clean_mocks(agency_mocks: RunningMocks) -> Iterator[None]:
    agency_mocks.reset()
    yield
    agency_mocks.reset()


@pytest.fixture
def connect(agency_mocks: RunningMocks, http: aiohttp.ClientSession) -> Connect:
    """``connect("vehicle", timeout=0.3)`` -> a connector aimed at the running mock."""

    def make(agency: str, timeout: float = 5.0) -> Connector:
        cls = connector_classes()[agency]
        return cls(session=http, base_url=agency_mocks.urls[agency], timeout=timeout)

    return make


def found_for(agency: str, count: int, seed: int = 3, pool: int = 1500) -> list[tuple[str, str]]:
    """``count`` people the agency holds records for (rare ones need a large pool)."""
    from mocks.population import truth

    hits = [
        (name, id_number)
        for name, id_number in sample_ids(pool, seed=seed, organisations=0)
        if truth(agency, id_number, case_number=REQUESTER.case_number) is not None
    ]
    assert len(hits) >= count, f"only {len(hits)} found for {agency}"
    return hits[:count]


async def wait_until(predicate: Callable[[], bool], limit: float = 5.0) -> None:
    """Poll state (not sleep blindly) until it holds; fail after ``limit`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


async def raw(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    requester: bool = True,
    **kwargs: Any,
) -> tuple[int, Any]:
    """One HTTP request straight to a mock; answers (status, parsed JSON or text)."""
    headers = REQUESTER.headers() if requester else {}
    async with http.request(method, url, headers=headers, **kwargs) as resp:
        if "json" in resp.content_type:
            return resp.status, await resp.json()
        return resp.status, await resp.text()


@asynccontextmanager
async def fake_agency(routes: list[tuple[str, str, FakeHandler]]) -> AsyncIterator[str]:
    """A throw-away agency answering whatever a test scripts; yields its base URL."""
    app = web.Application()
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


def answer(body: Any, *, status: int = 200, content_type: str = "application/json") -> FakeHandler:
    """A handler that always answers ``body`` (JSON-encoded unless it is bytes or str)."""
    if isinstance(body, bytes):
        payload = body
    elif isinstance(body, str):
        payload = body.encode()
    else:
        payload = json.dumps(body, ensure_ascii=False).encode()

    async def handler(_request: web.Request) -> web.Response:
        return web.Response(body=payload, status=status, content_type=content_type)

    return handler
