"""乡镇协查 subsidies: every township, every page, merged."""

from __future__ import annotations

import aiohttp

from mocks import places
from mocks.population import sample_ids, truth
from mocks.subsidy import PAGE_SIZE
from mocks.testing import RunningMocks
from tests.integration.connectors.conftest import REQUESTER, SAMPLE, Connect, raw, subject, subjects


def in_several_townships() -> tuple[str, str]:
    """Someone paid in 2+ townships with more than a page in one of them."""
    for name, id_number in sample_ids(600, seed=5, organisations=0):
        record = truth("subsidy", id_number)
        if record is None:
            continue
        codes = [p["township_code"] for p in record["payments"]]
        if len(set(codes)) >= 2 and max(codes.count(c) for c in codes) > PAGE_SIZE:
            return name, id_number
    raise AssertionError("no multi-township person in the pool")


async def test_sample_equals_truth(connect: Connect, agency_mocks: RunningMocks) -> None:
    people = SAMPLE[:30]
    answers = await connect("subsidy").query(subjects(people), REQUESTER)
    assert [a.to_json() for a in answers] == [agency_mocks.truth("subsidy", i) for _, i in people]


async def test_pages_through_every_township(connect: Connect, agency_mocks: RunningMocks) -> None:
    name, id_number = in_several_townships()
    [answer] = await connect("subsidy").query([subject(name, id_number)], REQUESTER)
    expected = agency_mocks.truth("subsidy", id_number)
    assert answer.to_json() == expected
    assert expected is not None
    codes = [p["township_code"] for p in expected["payments"]]
    extra_pages = sum((codes.count(c) - 1) // PAGE_SIZE for c in set(codes))
    # the township list, page 1 of every township, and the further pages
    assert agency_mocks.stats("subsidy")["requests"] == 1 + len(places.TOWNSHIPS) + extra_pages


async def test_listing_protocol(agency_mocks: RunningMocks, http: aiohttp.ClientSession) -> None:
    url = agency_mocks.urls["subsidy"]
    _, listing = await raw(http, "GET", url + "/v1/townships")
    assert [t["code"] for t in listing["townships"]] == [t[0] for t in places.TOWNSHIPS]
    _, id_number = in_several_townships()
    record = truth("subsidy", id_number)
    assert record is not None
    code = record["payments"][0]["township_code"]
    page, seen = 1, 0
    while page is not None:
        status, answer = await raw(
            http,
            "POST",
            f"{url}/v1/townships/{code}/payments",
            json={"id_number": id_number, "page": page},
        )
        assert status == 200 and answer["page"] == page
        seen += len(answer["payments"])
        page = answer["next_page"]
    assert seen == sum(p["township_code"] == code for p in record["payments"])
    status, _ = await raw(
        http, "POST", f"{url}/v1/townships/999/payments", json={"id_number": id_number}
    )
    assert status == 404
    for body in ({"id_number": id_number, "page": 0}, {"id_number": id_number, "page": "2"}, {}):
        status, _ = await raw(http, "POST", f"{url}/v1/townships/{code}/payments", json=body)
        assert status == 400
