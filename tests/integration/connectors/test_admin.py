"""Mock plumbing: admin endpoints, start-up options, fast shutdown, never a 500 by accident."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from connectors.registry import AGENCIES
from mocks.__main__ import parse_faults
from mocks.faults import AgencyControl, ConfigError, Faults
from mocks.testing import RunningMocks, running_mocks
from tests.integration.connectors.conftest import (
    REQUESTER,
    SAMPLE,
    Connect,
    raw,
    subject,
    wait_until,
)

#: every protocol endpoint of every mock, as (agency, method, path)
ENDPOINTS = [
    ("household", "POST", "/v1/identity"),
    ("household", "GET", "/v1/photos/ZPnothing"),
    ("realestate", "POST", "/v1/inquiries"),
    ("realestate", "GET", "/v1/inquiries/nothing"),
    ("vehicle", "POST", "/v1/vehicles/query"),
    ("forestry", "POST", "/v1/forest-rights/query"),
    ("subsidy", "GET", "/v1/townships"),
    ("subsidy", "POST", "/v1/townships/220322100/payments"),
    ("police", "POST", "/v1/assistance"),
    ("police", "GET", "/v1/assistance/nothing"),
    ("realestate", "POST", "/v1/controls"),
    ("vehicle", "POST", "/v1/controls/CLKZ-000001/renew"),
    ("forestry", "POST", "/v1/controls/LQKZ-000001/release"),
    ("subsidy", "GET", "/v1/controls/BTDJ-000001?on=garbage"),
]
GARBAGE: list[bytes] = [
    b"",
    b"null",
    b"[]",
    b'"text"',
    b"{bad json",
    b'{"id_number": null, "gmsfhm": [], "subjects": {}, "page": -1}',
    b"\xff\xfe\xfd",
    b"x" * (300 * 1024),  # over the body limit
]


@pytest.mark.parametrize(("agency", "method", "path"), ENDPOINTS)
async def test_garbage_never_makes_a_500(
    agency: str, method: str, path: str, agency_mocks: RunningMocks, http: aiohttp.ClientSession
) -> None:
    url = agency_mocks.urls[agency] + path
    for body in GARBAGE:
        async with http.request(method, url, data=body, headers=REQUESTER.headers()) as resp:
            assert resp.status < 500, (body[:20], resp.status)
            await resp.read()
    assert agency_mocks.stats(agency)["by_status"].get("500") is None


async def test_unknown_paths_answer_json_errors(
    agency_mocks: RunningMocks, http: aiohttp.ClientSession
) -> None:
    status, answer = await raw(http, "GET", agency_mocks.urls["vehicle"] + "/nowhere")
    assert status == 404 and "error" in answer
    status, answer = await raw(http, "DELETE", agency_mocks.urls["vehicle"] + "/v1/vehicles/query")
    assert status == 405 and "error" in answer


async def test_admin_endpoints(agency_mocks: RunningMocks, http: aiohttp.ClientSession) -> None:
    url = agency_mocks.urls["police"]
    status, faults = await raw(http, "POST", url + "/admin/faults", json={"503": 0.5})
    assert status == 200 and faults == {"503": 0.5, "outage": False}
    assert (await raw(http, "GET", url + "/admin/faults"))[1]["503"] == 0.5
    for bad in ({"teapot": 0.1}, {"500": 2}, {"500": 0.6, "503": 0.6}, {"outage": "yes"}):
        status, answer = await raw(http, "POST", url + "/admin/faults", json=bad)
        assert status == 400 and "error" in answer
    status, limits = await raw(http, "POST", url + "/admin/limits", json={"max_in_flight": 2})
    assert status == 200 and limits == {"max_in_flight": 2, "max_per_second": None}
    assert (await raw(http, "POST", url + "/admin/latency", json={"profile": "slow"}))[0] == 400
    assert (await raw(http, "POST", url + "/admin/latency", json={"profile": "zero"}))[0] == 200
    await raw(http, "POST", url + "/v1/assistance", json={"id_number": SAMPLE[0][1]})
    _, stats = await raw(http, "GET", url + "/admin/stats")
    assert stats["agency"] == "police" and stats["requests"] == 1
    assert stats["by_officer"] == {REQUESTER.officer: 1}
    assert (await raw(http, "POST", url + "/admin/reset"))[0] == 200
    _, stats = await raw(http, "GET", url + "/admin/stats")
    assert stats["requests"] == 0 and agency_mocks.stats("police")["requests"] == 0
    assert (await raw(http, "GET", url + "/admin/faults"))[1] == {"outage": False}


@pytest.mark.parametrize("agency", AGENCIES)
async def test_admin_truth(
    agency: str, agency_mocks: RunningMocks, http: aiohttp.ClientSession
) -> None:
    id_number = SAMPLE[1][1]
    params = {"id": id_number, "case": REQUESTER.case_number}
    status, answer = await raw(
        http, "GET", agency_mocks.urls[agency] + "/admin/truth", params=params
    )
    expected = agency_mocks.truth(agency, id_number, case_number=REQUESTER.case_number)
    assert status == 200 and answer["record"] == expected
    assert answer["found"] is (expected is not None)
    status, _ = await raw(http, "GET", agency_mocks.urls[agency] + "/admin/truth?id=123")
    assert status == 400


async def test_start_up_options_and_fast_shutdown(
    http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # How the hung request's wait ended: woken by the shutdown hook, or cancelled (the server
    # gave up waiting for it after its shutdown timeout), or not at all.
    endings: list[str] = []
    hang = AgencyControl.hang

    async def recorded_hang(control: AgencyControl) -> None:
        try:
            await hang(control)
        except asyncio.CancelledError:
            endings.append("cancelled")
            raise
        endings.append("woken")

    monkeypatch.setattr(AgencyControl, "hang", recorded_hang)
    async with running_mocks(faults={"vehicle": {"hang": 1.0}}, seed=9) as mocks:
        url = mocks.urls["vehicle"] + "/v1/vehicles/query"
        body = {"subjects": [{"id_number": SAMPLE[0][1]}]}
        hung = asyncio.create_task(http.post(url, json=body, headers=REQUESTER.headers()))
        await wait_until(lambda: mocks.in_flight("vehicle") == 1)
        assert mocks.stats("vehicle")["faults"] == {"hang": 1}
        assert all(u.startswith("http://127.0.0.1:") for u in mocks.urls.values())
        assert endings == []  # still hanging (for 600 s unless woken)
    # shutdown woke the hung request instead of waiting out its 600 s (or cancelling it)
    assert endings == ["woken"]
    assert mocks.in_flight("vehicle") == 0
    try:
        async with await hung as resp:
            status: int | None = resp.status
    except aiohttp.ClientError:
        status = None  # the server went away mid-request
    assert status in (503, None)


def test_faults_and_command_line_parsing() -> None:
    assert parse_faults(["household:500=0.1", "police:outage=1", "household:hang=0.05"]) == {
        "household": {"500": 0.1, "hang": 0.05},
        "police": {"outage": True},
    }
    for bad in (["nowhere:500=0.1"], ["household:500"], ["household:500=lots"]):
        with pytest.raises(ConfigError):
            parse_faults(bad)
    assert Faults.parse({"500": 0, "outage": False}).rates == {}


async def test_requests_are_counted_per_officer(
    connect: Connect, agency_mocks: RunningMocks
) -> None:
    await connect("vehicle").query([subject(*SAMPLE[0])], REQUESTER)
    assert agency_mocks.stats("vehicle")["by_officer"] == {REQUESTER.officer: 1}


async def test_realistic_profile_delays_answers(
    connect: Connect, agency_mocks: RunningMocks
) -> None:
    agency_mocks.set_latency("household", "realistic")  # 50-150 ms per request
    loop = asyncio.get_running_loop()
    started = loop.time()
    await connect("household").query([subject(*SAMPLE[0])], REQUESTER)
    assert loop.time() - started >= 0.05


@pytest.mark.parametrize("agency", AGENCIES)
async def test_stats_count_each_subject_asked_and_asked_again(
    agency: str, agency_mocks: RunningMocks, connect: Connect
) -> None:
    people = [("张三", SAMPLE[0][1]), ("李四", SAMPLE[1][1])]
    connector = connect(agency)
    await connector.query([subject(*people[0])], REQUESTER)
    await connector.query([subject(*people[0]), subject(*people[1])], REQUESTER)

    stats = agency_mocks.stats(agency)
    assert (stats["subjects_asked"], stats["asked_again"]) == (2, 1)
