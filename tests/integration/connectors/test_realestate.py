"""不动产登记 real estate: submit, get a ticket, poll until complete."""

from __future__ import annotations

import aiohttp
import pytest

from connectors.base import Found
from connectors.errors import AgencyTimeout
from mocks.faults import Latency
from mocks.testing import RunningMocks
from tests.integration.connectors.conftest import (
    REQUESTER,
    SAMPLE,
    Connect,
    found_for,
    raw,
    subject,
    subjects,
)


async def test_sample_equals_truth(connect: Connect, agency_mocks: RunningMocks) -> None:
    people = SAMPLE[:30]
    answers = await connect("realestate").query(subjects(people), REQUESTER)
    assert [a.to_json() for a in answers] == [
        agency_mocks.truth("realestate", i) for _, i in people
    ]
    # one submit and (zero latency) one poll per subject
    assert agency_mocks.stats("realestate")["requests"] == 60


async def test_organisations_hold_property(connect: Connect, agency_mocks: RunningMocks) -> None:
    orgs = [p for p in SAMPLE if p[1][:2] == "91"]
    answers = await connect("realestate").query(subjects(orgs), REQUESTER)
    assert [a.to_json() for a in answers] == [agency_mocks.truth("realestate", i) for _, i in orgs]
    assert any(isinstance(a, Found) for a in answers)


async def test_polls_until_the_ticket_is_ready(
    connect: Connect, agency_mocks: RunningMocks
) -> None:
    # Latency is the point here: the registry needs 0.2 s before the answer is ready.
    agency_mocks.set_latency("realestate", Latency(ready=(0.2, 0.2)))
    [(name, id_number)] = found_for("realestate", 1)
    [answer] = await connect("realestate").query([subject(name, id_number)], REQUESTER)
    assert answer.to_json() == agency_mocks.truth("realestate", id_number)
    stats = agency_mocks.stats("realestate")
    assert stats["requests"] >= 3  # submit, at least one 'pending', then 'complete'
    assert stats["by_status"]["202"] == 1


async def test_times_out_when_never_ready_within_budget(
    connect: Connect, agency_mocks: RunningMocks
) -> None:
    agency_mocks.set_latency("realestate", Latency(ready=(60.0, 60.0)))
    [(name, id_number)] = found_for("realestate", 1)
    # Each request has 0.3 s; waiting for readiness, three of them in all.
    with pytest.raises(AgencyTimeout, match=r"not ready within 0\.9 s"):
        await connect("realestate", timeout=0.3).query([subject(name, id_number)], REQUESTER)


async def test_unknown_ticket_and_bad_submissions(
    agency_mocks: RunningMocks, http: aiohttp.ClientSession
) -> None:
    url = agency_mocks.urls["realestate"]
    assert (await raw(http, "GET", url + "/v1/inquiries/BDC404"))[0] == 404
    for body in ({}, {"id_number": "123"}, {"id_number": 5}, [1, 2]):
        status, answer = await raw(http, "POST", url + "/v1/inquiries", json=body)
        assert status == 400 and "error" in answer
    status, _ = await raw(http, "POST", url + "/v1/inquiries", data=b"{not json")
    assert status == 400
