"""Stand-in 林地权属 forestry bureau: XML request, XML answer, slow."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from aiohttp import web

from mocks.assets import forestry
from mocks.http import CONTROL
from mocks.population import kind_of

XML = "application/xml"


def _xml(root: ET.Element, status: int = 200) -> web.Response:
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return web.Response(status=status, body=body, content_type=XML, charset="utf-8")


def _error(message: str) -> web.Response:
    root = ET.Element("ForestRightError")
    ET.SubElement(root, "Message").text = message
    return _xml(root, 400)


def _parse(body: bytes) -> ET.Element | None:
    # Refuse DTDs outright (entity expansion), then parse with the standard library.
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        return None
    try:
        return ET.fromstring(body)  # noqa: S314 - DTDs refused above
    except ET.ParseError:
        return None


async def query(request: web.Request) -> web.Response:
    root = _parse(await request.read())
    if root is None:
        return _error("request is not well-formed XML")
    if root.tag != "ForestRightQuery":
        return _error("root element must be ForestRightQuery")
    id_number = (root.findtext("IdNumber") or "").strip()
    kind = kind_of(id_number)
    if kind is None:
        return _error("IdNumber is not a valid resident ID or credit code")
    request.app[CONTROL].stats.asked[id_number] += 1
    answer = ET.Element("ForestRightAnswer")
    certificates = forestry(id_number, kind)
    ET.SubElement(answer, "Result").text = "found" if certificates else "not_found"
    ET.SubElement(answer, "IdNumber").text = id_number
    listing = ET.SubElement(answer, "Certificates")
    for certificate in certificates:
        element = ET.SubElement(listing, "Certificate")
        for tag, value in (
            ("Number", certificate["Number"]),
            ("Location", certificate["Location"]),
            ("AreaMu", certificate["AreaMu"]),
            ("Species", certificate["Species"]),
            ("RightType", certificate["RightType"]),
            ("TermStart", certificate["TermStart"]),
            ("TermEnd", certificate["TermEnd"]),
        ):
            ET.SubElement(element, tag).text = value
    return _xml(answer)


def setup(app: web.Application) -> None:
    app.router.add_post("/v1/forest-rights/query", query)
