"""Agency limits: too fast -> 429, too many at once -> 503, both with Retry-After, all counted."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from connectors.errors import AgencyRateLimited
from mocks.faults import DEFAULT_LIMITS, UNLIMITED, ConfigError, Limits
from mocks.server import limits_for
from mocks.testing import RunningMocks
from tests.integration.connectors.conftest import REQUESTER, SAMPLE, Connect, subject, wait_until


async def test_too_fast_is_429_with_retry_after(
    agency_mocks: RunningMocks, http: aiohttp.ClientSession
) -> None:
    agency_mocks.set_limits("household", max_per_second=3)
    url = agency_mocks.urls["household"] + "/v1/identity"

    async def ask(id_number: str) -> tuple[int, str | None]:
        body = {"gmsfhm": id_number}
        async with http.post(url, json=body, headers=REQUESTER.headers()) as resp:
            return resp.status, resp.headers.get("Retry-After")

    answers = await asyncio.gather(*(ask(i) for _, i in SAMPLE[:8]))
    refused = [retry for status, retry in answers if status == 429]
    assert len(refused) == 5  # 3 admitted within the second, 5 refused
    assert all(retry is not None and int(retry) >= 1 for retry in refused)
    stats = agency_mocks.stats("household")
    assert stats["breaches"] == {"rate": 5} and stats["breaches_total"] == 5
    assert stats["requests"] == 8


async def test_connector_reports_rate_limit(connect: Connect, agency_mocks: RunningMocks) -> None:
    agency_mocks.set_limits("vehicle", max_per_second=1)
    connector = connect("vehicle")
    people = [subject(*p) for p in SAMPLE[:3]]
    await connector.query(people, REQUESTER)
    with pytest.raises(AgencyRateLimited) as caught:
        await connector.query(people, REQUESTER)
    assert caught.value.retry_after is not None and caught.value.retry_after >= 1
    assert agency_mocks.stats("vehicle")["breaches"] == {"rate": 1}


async def test_too_many_in_flight_is_503_with_retry_after(
    connect: Connect, agency_mocks: RunningMocks
) -> None:
    agency_mocks.set_limits("forestry", max_in_flight=1)
    agency_mocks.set_faults("forestry", {"hang": 1.0})  # the first request holds the only slot
    name, id_number = next(p for p in SAMPLE if p[1][:2] != "91")
    holder = asyncio.create_task(
        connect("forestry", timeout=30).query([subject(name, id_number)], REQUESTER)
    )
    await wait_until(lambda: agency_mocks.in_flight("forestry") == 1)
    agency_mocks.set_faults("forestry", {})
    with pytest.raises(AgencyRateLimited, match="overloaded"):
        await connect("forestry").query([subject(name, id_number)], REQUESTER)
    assert agency_mocks.stats("forestry")["breaches"] == {"in_flight": 1}
    holder.cancel()  # the client gives up; the mock cancels the hung handler
    with pytest.raises(asyncio.CancelledError):
        await holder
    await wait_until(lambda: agency_mocks.in_flight("forestry") == 0)


def test_limit_settings() -> None:
    assert limits_for("vehicle", None) == UNLIMITED
    assert limits_for("vehicle", "default") == DEFAULT_LIMITS["vehicle"]
    assert limits_for("vehicle", {"vehicle": Limits(2, 3)}) == Limits(2, 3)
    assert limits_for("police", {"vehicle": Limits(2, 3)}) == UNLIMITED
    assert Limits.parse({"max_in_flight": 4, "max_per_second": None}) == Limits(4, None)
    for bad in ({"max_in_flight": 0}, {"max_per_second": "fast"}, {"max_in_flight": True}):
        with pytest.raises(ConfigError):
            Limits.parse(bad)
