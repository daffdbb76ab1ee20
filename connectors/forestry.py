"""林地权属 forestry bureau: forest-land and forest-tree right certificates.

Protocol: XML over HTTP. ``POST /v1/forest-rights/query`` with ``<ForestRightQuery>`` answers
``<ForestRightAnswer>`` holding ``<Result>found|not_found</Result>`` and ``<Certificate>``
elements. The bureau's system is slow (1-2 s). Answers are parsed with the standard library
after refusing any DTD, so entity tricks cannot reach the parser.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from connectors._shape import ShapeError, answer_shape, iso_date
from connectors.base import Answer, Connector, Found, NotFound, Requester, Subject, field_doc
from connectors.errors import AgencyBadAnswer

XML_HEADERS = {"Content-Type": "application/xml; charset=utf-8", "Accept": "application/xml"}


@dataclass(frozen=True, slots=True)
class ForestCertificate:
    """One forest-right certificate (林权证)."""

    certificate_number: str = field_doc("forest-right certificate number (林权证号)")
    location: str = field_doc("location: county, township, village, compartment (林班/小班)")
    area_mu: float = field_doc("area in mu (亩; 15 mu = 1 hectare)")
    species: str = field_doc("dominant tree species (树种), e.g. 落叶松")
    right_type: str = field_doc("right held (权利类型), e.g. 林地使用权, 林木所有权")
    term_start: str = field_doc("ISO date the right's term begins")
    term_end: str = field_doc("ISO date the right's term ends")


@dataclass(frozen=True, slots=True)
class ForestryRecord:
    """Every forest-right certificate issued to the subject."""

    certificates: list[ForestCertificate] = field_doc("certificates held, in issue order")


@dataclass
class ForestryConnector(Connector):
    name: ClassVar[str] = "forestry"
    title: ClassVar[str] = "林地权属"
    max_group: ClassVar[int] = 1
    record_type: ClassVar[type] = ForestryRecord

    async def query(self, subjects: Sequence[Subject], requester: Requester) -> list[Answer]:
        return [await self._one(subject, requester) for subject in subjects]

    async def _one(self, subject: Subject, requester: Requester) -> Answer:
        # Forest rights here are registered to villagers only: nothing to ask for organisations.
        if subject.kind != "person":
            return NotFound()
        request = ET.Element("ForestRightQuery")
        ET.SubElement(request, "IdNumber").text = subject.id_number
        ET.SubElement(request, "SubjectKind").text = subject.kind
        body = ET.tostring(request, encoding="utf-8", xml_declaration=True)
        response = await self._send(
            "POST", "/v1/forest-rights/query", requester, data=body, headers=XML_HEADERS
        )
        content_type = response.headers.get("Content-Type", "")
        if "xml" not in content_type:
            raise AgencyBadAnswer(self.name, f"expected XML, got content type {content_type!r}")
        root = self._parse(response.body)
        with answer_shape(self.name):
            if root.tag != "ForestRightAnswer":
                raise ShapeError("root element is not ForestRightAnswer")
            result = _child_text(root, "Result")
            if result == "not_found":
                return NotFound()
            if result != "found":
                raise ShapeError("element 'Result' has an unknown value")
            if _child_text(root, "IdNumber") != subject.id_number:
                raise ShapeError("answer is for a different subject")
            certificates = [_certificate(c) for c in root.iterfind("Certificates/Certificate")]
            if not certificates:
                raise ShapeError("'found' answer holds no certificate")
            return Found(ForestryRecord(certificates))

    def _parse(self, body: bytes) -> ET.Element:
        # No DTDs at all: entity expansion is the classic XML attack and agencies never need it.
        if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
            raise AgencyBadAnswer(self.name, "answer carries a DTD")
        try:
            return ET.fromstring(body)  # noqa: S314 - DTDs refused above
        except ET.ParseError as exc:
            raise AgencyBadAnswer(self.name, "answer is not well-formed XML") from exc


def _child_text(element: ET.Element, tag: str) -> str:
    child = element.find(tag)
    if child is None or child.text is None or not child.text.strip():
        raise ShapeError(f"element {tag!r} is missing or empty")
    return child.text.strip()


def _area(value: str) -> float:
    try:
        area = float(value)
    except ValueError as exc:
        raise ShapeError("element 'AreaMu' is not a number") from exc
    # float() also accepts 'nan' and 'inf', which no certificate holds.
    if not math.isfinite(area) or area <= 0:
        raise ShapeError("element 'AreaMu' is not a positive number")
    return area


def _certificate(element: ET.Element) -> ForestCertificate:
    return ForestCertificate(
        certificate_number=_child_text(element, "Number"),
        location=_child_text(element, "Location"),
        area_mu=_area(_child_text(element, "AreaMu")),
        species=_child_text(element, "Species"),
        right_type=_child_text(element, "RightType"),
        term_start=iso_date(_child_text(element, "TermStart"), "TermStart"),
        term_end=iso_date(_child_text(element, "TermEnd"), "TermEnd"),
    )
