"""户政 household: identity plus photo, equal to the population's truth."""

from __future__ import annotations

import base64
import dataclasses
import hashlib

import pytest

from connectors.base import Found, NotFound
from mocks.population import sample_ids
from mocks.testing import RunningMocks
from tests.integration.connectors.conftest import REQUESTER, SAMPLE, Connect, subject, subjects


async def test_sample_equals_truth(connect: Connect, agency_mocks: RunningMocks) -> None:
    people = SAMPLE[:30]
    answers = await connect("household").query(subjects(people), REQUESTER)
    assert [a.to_json() for a in answers] == [agency_mocks.truth("household", i) for _, i in people]
    assert any(isinstance(a, Found) for a in answers)


async def test_identity_agrees_with_id_number_and_photo_is_a_png(connect: Connect) -> None:
    found = 0
    for name, id_number in sample_ids(40, seed=11, organisations=0):
        [answer] = await connect("household").query([subject(name, id_number)], REQUESTER)
        if isinstance(answer, NotFound):
            continue
        found += 1
        record = answer.record
        assert record.name == name
        assert record.birth_date.replace("-", "") == id_number[6:14]
        assert record.sex == ("male" if int(id_number[16]) % 2 else "female")
        png = base64.b64decode(record.photo.data_base64)
        assert png.startswith(b"\x89PNG") and len(png) == record.photo.size_bytes
        assert hashlib.sha256(png).hexdigest() == record.photo.sha256
    assert found >= 30


async def test_two_requests_per_person_and_none_for_organisations(
    connect: Connect, agency_mocks: RunningMocks
) -> None:
    person = next(p for p in SAMPLE if agency_mocks.truth("household", p[1]) is not None)
    org = next(p for p in SAMPLE if p[1][:2] == "91")
    answers = await connect("household").query(subjects([person, org]), REQUESTER)
    assert isinstance(answers[0], Found) and isinstance(answers[1], NotFound)
    # identity, then photo; organisations are not asked about at all
    assert agency_mocks.stats("household")["requests"] == 2


@pytest.mark.parametrize(
    ("items", "requests_per_person"),
    [(("identity",), 1), (("photo",), 2), (("identity", "photo"), 2), ((), 2)],
)
async def test_only_the_parts_asked_for(
    connect: Connect,
    agency_mocks: RunningMocks,
    items: tuple[str, ...],
    requests_per_person: int,
) -> None:
    """Identity only: no photo request, the photo null. Photo only: the identity is still asked
    for (the photo number comes with it), and none of it is kept."""
    people = [p for p in SAMPLE[:12] if agency_mocks.truth("household", p[1]) is not None]
    requester = dataclasses.replace(REQUESTER, items=items)
    answers = await connect("household").query(subjects(people), requester)
    records = [a.to_json() for a in answers]
    assert records == [agency_mocks.truth("household", i, items=items) for _, i in people]
    assert agency_mocks.stats("household")["requests"] == requests_per_person * len(people)
    for record in records:
        assert record is not None
        assert (record["photo"] is not None) == ("photo" in items or not items)
        assert (record["name"] is not None) == ("identity" in items or not items)
