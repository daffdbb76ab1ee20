"""派出所 police: file a whereabouts/assistance request, poll its acknowledgement."""

from __future__ import annotations

import dataclasses

import aiohttp
import pytest

from connectors.base import Found
from connectors.errors import AgencyTimeout
from mocks.faults import Latency
from mocks.population import police_ack
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
    answers = await connect("police").query(subjects(people), REQUESTER)
    case = REQUESTER.case_number
    assert [a.to_json() for a in answers] == [
        agency_mocks.truth("police", i, case_number=case) for _, i in people
    ]


async def test_ack_is_stable_per_case_and_person(
    connect: Connect, agency_mocks: RunningMocks
) -> None:
    [(name, id_number)] = found_for("police", 1)
    connector = connect("police")
    [first] = await connector.query([subject(name, id_number)], REQUESTER)
    [again] = await connector.query([subject(name, id_number)], REQUESTER)
    other = dataclasses.replace(REQUESTER, case_number="(2024)吉0303执恢7号")
    [elsewhere] = await connector.query([subject(name, id_number)], other)
    assert isinstance(first, Found) and isinstance(elsewhere, Found)
    assert first.record.ack_number == again.record.ack_number
    assert first.record.ack_number == police_ack(id_number, REQUESTER.case_number)
    assert elsewhere.record.ack_number != first.record.ack_number
    assert elsewhere.to_json() == agency_mocks.truth(
        "police", id_number, case_number=other.case_number
    )


async def test_polls_until_the_station_answers(
    connect: Connect, agency_mocks: RunningMocks
) -> None:
    agency_mocks.set_latency("police", Latency(ready=(0.2, 0.2)))  # latency is the point
    [(name, id_number)] = found_for("police", 1)
    [answer] = await connect("police").query([subject(name, id_number)], REQUESTER)
    assert answer.to_json() == agency_mocks.truth(
        "police", id_number, case_number=REQUESTER.case_number
    )
    assert agency_mocks.stats("police")["requests"] >= 3


async def test_times_out_when_the_station_never_answers(
    connect: Connect, agency_mocks: RunningMocks
) -> None:
    agency_mocks.set_latency("police", Latency(ready=(60.0, 60.0)))
    [(name, id_number)] = found_for("police", 1)
    with pytest.raises(AgencyTimeout):
        await connect("police", timeout=0.3).query([subject(name, id_number)], REQUESTER)


async def test_status_is_visible_only_under_its_case(
    agency_mocks: RunningMocks, http: aiohttp.ClientSession
) -> None:
    [(_, id_number)] = found_for("police", 1)
    url = agency_mocks.urls["police"] + "/v1/assistance"
    status, filed = await raw(http, "POST", url, json={"id_number": id_number, "kind": "person"})
    assert status == 202
    status, _ = await raw(http, "GET", f"{url}/{filed['ack']}")
    assert status == 200
    other = dataclasses.replace(REQUESTER, case_number="(2023)吉03执1号").headers()
    async with http.get(f"{url}/{filed['ack']}", headers=other) as resp:
        assert resp.status == 404
    assert (await raw(http, "GET", f"{url}/SPGA0000"))[0] == 404
