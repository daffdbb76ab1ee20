"""车管所 vehicles: one batch call for up to 50 identifiers."""

from __future__ import annotations

import aiohttp
import pytest

from connectors.base import Found, NotFound
from connectors.errors import AgencyRejected
from connectors.vehicle import VehicleConnector
from mocks.population import sample_ids
from mocks.testing import RunningMocks
from tests.integration.connectors.conftest import REQUESTER, SAMPLE, Connect, raw, subjects


async def test_sample_equals_truth_in_one_call(
    connect: Connect, agency_mocks: RunningMocks
) -> None:
    people = SAMPLE[:30]
    answers = await connect("vehicle").query(subjects(people), REQUESTER)
    assert [a.to_json() for a in answers] == [agency_mocks.truth("vehicle", i) for _, i in people]
    assert agency_mocks.stats("vehicle")["requests"] == 1


async def test_caller_splits_120_into_groups_of_max_group(
    connect: Connect, agency_mocks: RunningMocks
) -> None:
    people = subjects(sample_ids(120, seed=21))
    connector = connect("vehicle")
    size = VehicleConnector.max_group
    assert size == 50
    answers = []
    for start in range(0, len(people), size):  # as the dispatcher does
        answers += await connector.query(people[start : start + size], REQUESTER)
    assert [a.to_json() for a in answers] == [
        agency_mocks.truth("vehicle", s.id_number) for s in people
    ]
    assert agency_mocks.stats("vehicle")["requests"] == 3
    hits = sum(isinstance(a, Found) for a in answers)
    assert 40 < hits < 100  # "many own a vehicle"


async def test_oversized_call_is_split_by_the_connector_too(
    connect: Connect, agency_mocks: RunningMocks
) -> None:
    people = subjects(sample_ids(51, seed=22))
    answers = await connect("vehicle").query(people, REQUESTER)
    assert len(answers) == 51
    assert agency_mocks.stats("vehicle")["requests"] == 2


async def test_mock_refuses_51(
    agency_mocks: RunningMocks, http: aiohttp.ClientSession, connect: Connect
) -> None:
    ids = [{"id_number": i, "kind": "person"} for _, i in sample_ids(51, seed=23, organisations=0)]
    url = agency_mocks.urls["vehicle"] + "/v1/vehicles/query"
    status, answer = await raw(http, "POST", url, json={"subjects": ids})
    assert status == 400 and "50" in answer["error"]
    status, _ = await raw(http, "POST", url, json={"subjects": ids[:50]})
    assert status == 200
    # through the connector's own request seam the refusal is permanent
    connector = connect("vehicle")
    with pytest.raises(AgencyRejected):
        await connector._send("POST", "/v1/vehicles/query", REQUESTER, json_body={"subjects": ids})


async def test_answers_are_matched_by_identifier_not_position(
    agency_mocks: RunningMocks, http: aiohttp.ClientSession, connect: Connect
) -> None:
    people = sample_ids(10, seed=24, organisations=0)
    body = {"subjects": [{"id_number": i, "kind": "person"} for _, i in people]}
    _, answer = await raw(
        http, "POST", agency_mocks.urls["vehicle"] + "/v1/vehicles/query", json=body
    )
    returned = [r["id_number"] for r in answer["results"]]
    assert sorted(returned) == sorted(i for _, i in people) and returned != [i for _, i in people]
    # the connector still answers in the caller's order, duplicates included
    twice = subjects([people[0], *people, people[0]])
    answers = await connect("vehicle").query(twice, REQUESTER)
    assert [a.to_json() for a in answers] == [
        agency_mocks.truth("vehicle", s.id_number) for s in twice
    ]
    assert isinstance(answers[0], Found | NotFound)


async def test_bad_batches_are_refused(
    agency_mocks: RunningMocks, http: aiohttp.ClientSession
) -> None:
    url = agency_mocks.urls["vehicle"] + "/v1/vehicles/query"
    for body in ({}, {"subjects": []}, {"subjects": "x"}, {"subjects": [1]}, {"subjects": [{}]}):
        status, answer = await raw(http, "POST", url, json=body)
        assert status == 400 and "error" in answer
