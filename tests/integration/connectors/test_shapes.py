"""Wrongly shaped agency answers become AgencyBadAnswer, never KeyError/ValueError/XML errors,
and the message names the problem without any resident ID or name."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp import web

from connectors.errors import AgencyBadAnswer
from connectors.registry import connector_classes
from mocks.png import id_photo
from tests.integration.connectors.conftest import (
    REQUESTER,
    SAMPLE,
    FakeHandler,
    answer,
    fake_agency,
    subject,
)

NAME, ID = next(p for p in SAMPLE if p[1][:2] != "91")
JSON = "application/json"
PERSON = {
    "gmsfhm": ID,
    "xm": NAME,
    "xb": "1",
    "csrq": "19700101",
    "mz": "01",
    "hjdz": "吉林省四平市铁西区",
    "hzxm": NAME,
    "yhzgx": "02",
    "zpbh": "ZP1",
}
PHOTO = id_photo(1)
PROPERTY = {
    "certificate_no": "吉(2020)四平市不动产权第0000001号",
    "location": "四平市",
    "area": 80.5,
    "purpose": "住宅",
    "ownership": "单独所有",
    "share": None,
    "encumbrances": [],
}
VEHICLE = {
    "plate": "吉C12345",
    "vehicle_type": "小型轿车",
    "brand": "红旗",
    "model": "H5",
    "vin": "LFP12345678123456",
    "registered": "2015-01-01",
    "status": "正常",
}
CERT = (
    "<Certificate><Number>n</Number><Location>l</Location><AreaMu>{area}</AreaMu>"
    "<Species>s</Species><RightType>r</RightType><TermStart>2000-01-01</TermStart>"
    "<TermEnd>2049-12-31</TermEnd></Certificate>"
)
WHERE = {
    "station": "s",
    "registered_address": "a",
    "last_known_address": "b",
    "last_seen": "2024-01-01",
}
TOWNSHIPS = {"townships": [{"code": "1", "name": "镇"}]}


def household(person: Any, photo: FakeHandler | None = None) -> list[tuple[str, str, FakeHandler]]:
    return [
        ("POST", "/v1/identity", answer({"result": "found", "data": person})),
        ("GET", "/v1/photos/{ref}", photo or answer(PHOTO, content_type="image/png")),
    ]


def realestate(status: Any, submitted: Any = None) -> list[tuple[str, str, FakeHandler]]:
    return [
        ("POST", "/v1/inquiries", answer(submitted or {"ticket": "T1"}, status=202)),
        ("GET", "/v1/inquiries/{ticket}", answer(status)),
    ]


def vehicle(results: Any) -> list[tuple[str, str, FakeHandler]]:
    return [("POST", "/v1/vehicles/query", answer({"results": results}))]


def forestry(xml: str) -> list[tuple[str, str, FakeHandler]]:
    return [("POST", "/v1/forest-rights/query", answer(xml, content_type="application/xml"))]


def subsidy(page: Any, townships: Any = TOWNSHIPS) -> list[tuple[str, str, FakeHandler]]:
    return [
        ("GET", "/v1/townships", answer(townships)),
        ("POST", "/v1/townships/{code}/payments", answer(page)),
    ]


def police(status: Any, filed: Any = None) -> list[tuple[str, str, FakeHandler]]:
    return [
        ("POST", "/v1/assistance", answer(filed or {"ack": "A1"}, status=202)),
        ("GET", "/v1/assistance/{ack}", answer(status)),
    ]


def found_xml(body: str, result: str = "found", who: str = ID) -> str:
    return (
        f"<ForestRightAnswer><Result>{result}</Result><IdNumber>{who}</IdNumber>"
        f"<Certificates>{body}</Certificates></ForestRightAnswer>"
    )


CASES: dict[str, tuple[str, list[tuple[str, str, FakeHandler]]]] = {
    "household: not an object": ("household", [("POST", "/v1/identity", answer([]))]),
    "household: unknown result": ("household", [("POST", "/v1/identity", answer({"result": "?"}))]),
    "household: no data": ("household", [("POST", "/v1/identity", answer({"result": "found"}))]),
    "household: missing name": ("household", household({**PERSON, "xm": None})),
    "household: unknown sex": ("household", household({**PERSON, "xb": "3"})),
    "household: impossible date": ("household", household({**PERSON, "csrq": "19701340"})),
    "household: unknown ethnicity": ("household", household({**PERSON, "mz": "99"})),
    "household: other person": ("household", household({**PERSON, "gmsfhm": "1" * 18})),
    "household: photo is JPEG": (
        "household",
        household(PERSON, answer(PHOTO, content_type="image/jpeg")),
    ),
    "household: photo not PNG": (
        "household",
        household(PERSON, answer(b"GIF89a", content_type="image/png")),
    ),
    "realestate: no ticket": ("realestate", realestate({}, submitted={"id": 1})),
    "realestate: bad hint": (
        "realestate",
        realestate({}, submitted={"ticket": "T", "poll_after_ms": "x"}),
    ),
    "realestate: unknown state": ("realestate", realestate({"state": "lost"})),
    "realestate: area text": (
        "realestate",
        realestate({"state": "complete", "properties": [{**PROPERTY, "area": "80"}]}),
    ),
    "realestate: area bool": (
        "realestate",
        realestate({"state": "complete", "properties": [{**PROPERTY, "area": True}]}),
    ),
    "realestate: unknown ownership": (
        "realestate",
        realestate({"state": "complete", "properties": [{**PROPERTY, "ownership": "?"}]}),
    ),
    "realestate: encumbrances not list": (
        "realestate",
        realestate({"state": "complete", "properties": [{**PROPERTY, "encumbrances": {}}]}),
    ),
    "realestate: bad encumbrance": (
        "realestate",
        realestate(
            {
                "state": "complete",
                "properties": [{**PROPERTY, "encumbrances": [{"type": "抵押", "holder": "h"}]}],
            }
        ),
    ),
    "vehicle: result missing": ("vehicle", vehicle([])),
    "vehicle: stranger": ("vehicle", vehicle([{"id_number": "X", "vehicles": []}])),
    "vehicle: repeated": (
        "vehicle",
        vehicle([{"id_number": ID, "vehicles": []}, {"id_number": ID, "vehicles": []}]),
    ),
    "vehicle: short vin": (
        "vehicle",
        vehicle([{"id_number": ID, "vehicles": [{**VEHICLE, "vin": "123"}]}]),
    ),
    "vehicle: unknown status": (
        "vehicle",
        vehicle([{"id_number": ID, "vehicles": [{**VEHICLE, "status": "飞走"}]}]),
    ),
    "vehicle: results not list": ("vehicle", vehicle({"a": 1})),
    "forestry: wrong root": ("forestry", forestry("<Other/>")),
    "forestry: no result": ("forestry", forestry("<ForestRightAnswer/>")),
    "forestry: unknown result": ("forestry", forestry(found_xml("", result="maybe"))),
    "forestry: other person": ("forestry", forestry(found_xml(CERT.format(area=1), who="X"))),
    "forestry: area text": ("forestry", forestry(found_xml(CERT.format(area="abc")))),
    "forestry: area nan": ("forestry", forestry(found_xml(CERT.format(area="nan")))),
    "forestry: found nothing": ("forestry", forestry(found_xml(""))),
    "forestry: cut off": ("forestry", forestry(found_xml(CERT.format(area=1))[:-20])),
    "forestry: DTD": (
        "forestry",
        forestry('<!DOCTYPE a [<!ENTITY e "x">]>' + found_xml(CERT.format(area=1))),
    ),
    "subsidy: townships not list": ("subsidy", subsidy({}, townships={"townships": "all"})),
    "subsidy: repeated township": (
        "subsidy",
        subsidy({}, townships={"townships": [{"code": "1", "name": "a"}] * 2}),
    ),
    "subsidy: wrong page": ("subsidy", subsidy({"page": 2, "payments": [], "next_page": None})),
    "subsidy: page stuck": ("subsidy", subsidy({"page": 1, "payments": [], "next_page": 1})),
    "subsidy: page text": ("subsidy", subsidy({"page": 1, "payments": [], "next_page": "2"})),
    "subsidy: amount text": (
        "subsidy",
        subsidy(
            {
                "page": 1,
                "payments": [
                    {"year": 2020, "kind": "k", "amount": "9", "bank": "b", "account": "a"}
                ],
                "next_page": None,
            }
        ),
    ),
    "police: no ack": ("police", police({}, filed={"status": "received"})),
    "police: unknown status": ("police", police({"ack": "A1", "status": "lost"})),
    "police: other ack": (
        "police",
        police({"ack": "A2", "status": "accepted", "whereabouts": WHERE}),
    ),
    "police: no whereabouts": ("police", police({"ack": "A1", "status": "accepted"})),
    "police: bad date": (
        "police",
        police({"ack": "A1", "status": "accepted", "whereabouts": {**WHERE, "last_seen": "soon"}}),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_bad_answer(case: str, http: aiohttp.ClientSession) -> None:
    agency, routes = CASES[case]
    async with fake_agency(routes) as url:
        connector = connector_classes()[agency](session=http, base_url=url, timeout=2.0)
        with pytest.raises(AgencyBadAnswer) as caught:
            await connector.query([subject(NAME, ID)], REQUESTER)
    message = str(caught.value)
    assert ID not in message and NAME not in message
    assert message.startswith(f"{agency}: ")


async def test_endless_listing_is_a_bad_answer(http: aiohttp.ClientSession) -> None:
    async def pages(request: web.Request) -> web.Response:
        page = (await request.json())["page"]
        return await answer({"page": page, "payments": [], "next_page": page + 1})(request)

    async with fake_agency(
        [*subsidy({})[:1], ("POST", "/v1/townships/{code}/payments", pages)]
    ) as url:
        connector = connector_classes()["subsidy"](session=http, base_url=url, timeout=2.0)
        with pytest.raises(AgencyBadAnswer, match="past 100 pages"):
            await connector.query([subject(NAME, ID)], REQUESTER)
