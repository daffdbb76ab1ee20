"""林地权属 forestry: XML request and answer; few people hold forest rights."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import aiohttp

from connectors.base import NotFound
from mocks.testing import RunningMocks
from tests.integration.connectors.conftest import REQUESTER, SAMPLE, Connect, found_for, subjects

HEADERS = {**REQUESTER.headers(), "Content-Type": "application/xml"}


async def test_sample_equals_truth(connect: Connect, agency_mocks: RunningMocks) -> None:
    people = SAMPLE[:25] + found_for("forestry", 5)  # the sample alone holds few rights
    answers = await connect("forestry").query(subjects(people), REQUESTER)
    assert [a.to_json() for a in answers] == [agency_mocks.truth("forestry", i) for _, i in people]
    assert sum(not isinstance(a, NotFound) for a in answers) >= 5


async def test_speaks_xml(agency_mocks: RunningMocks, http: aiohttp.ClientSession) -> None:
    [(_, id_number)] = found_for("forestry", 1)
    body = (
        "<?xml version='1.0' encoding='utf-8'?><ForestRightQuery>"
        f"<IdNumber>{id_number}</IdNumber><SubjectKind>person</SubjectKind></ForestRightQuery>"
    )
    url = agency_mocks.urls["forestry"] + "/v1/forest-rights/query"
    async with http.post(url, data=body.encode(), headers=HEADERS) as resp:
        assert resp.status == 200 and resp.content_type == "application/xml"
        root = ET.fromstring(await resp.read())  # noqa: S314 - our own mock's answer
    assert root.findtext("Result") == "found"
    certificate = root.find("Certificates/Certificate")
    assert certificate is not None and certificate.findtext("Species")


async def test_malformed_xml_is_refused_safely(
    agency_mocks: RunningMocks, http: aiohttp.ClientSession
) -> None:
    url = agency_mocks.urls["forestry"] + "/v1/forest-rights/query"
    bombs = [
        b"<ForestRightQuery><IdNumber>",  # cut off
        b'{"id_number": 1}',  # not XML at all
        b"<Other><IdNumber>1</IdNumber></Other>",  # wrong root
        b"<ForestRightQuery><IdNumber>123</IdNumber></ForestRightQuery>",  # bad identifier
        b'<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<ForestRightQuery><IdNumber>&b;</IdNumber></ForestRightQuery>",  # entity expansion
        b"\xff\xfe\x00garbage",
    ]
    for body in bombs:
        async with http.post(url, data=body, headers=HEADERS) as resp:
            assert resp.status == 400
            assert resp.content_type == "application/xml"
            error = ET.fromstring(await resp.read())  # noqa: S314 - our own mock's answer
            assert error.tag == "ForestRightError" and error.findtext("Message")
