"""不动产登记 real-estate registry: properties held, with their encumbrances.

Protocol (asynchronous, as real-estate platforms work): ``POST /v1/inquiries`` with the subject
answers ``202 {"ticket": ..., "poll_after_ms": n}``; ``GET /v1/inquiries/{ticket}`` answers
``{"state": "pending"}`` until the registry has searched, then ``{"state": "complete",
"properties": [...]}``. The connector polls with a short, growing interval; each request
must answer within ``timeout`` seconds and the whole inquiry (submit and every poll) must
finish within ``ready_within`` (three timeouts), else ``AgencyTimeout``. A poll for a ticket
the registry no longer knows (404) submits the inquiry again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote

from connectors._shape import (
    ShapeError,
    answer_shape,
    array,
    coded,
    integer,
    iso_date,
    number,
    obj,
    optional_text,
    text,
)
from connectors.base import Answer, Connector, Found, NotFound, Requester, Subject, field_doc
from connectors.errors import AgencyTimeout

OWNERSHIP_CODES: Mapping[str, str] = {
    "单独所有": "sole",
    "共同共有": "joint",
    "按份共有": "by_share",
}
ENCUMBRANCE_CODES: Mapping[str, str] = {"抵押": "mortgage", "查封": "seal", "异议": "objection"}
#: first and largest pause between polls; the registry's own hint is honoured within these
POLL_FIRST_S = 0.05
POLL_MAX_S = 0.5


@dataclass(frozen=True, slots=True)
class Encumbrance:
    """A registered burden on a property."""

    kind: str = field_doc("'mortgage' (抵押), 'seal' (查封) or 'objection' (异议登记)")
    holder: str = field_doc("who holds it: the mortgagee bank or the sealing court")
    registered_on: str = field_doc("ISO date the encumbrance was registered")


@dataclass(frozen=True, slots=True)
class Property:
    """One registered property right (不动产权)."""

    certificate_number: str = field_doc("real-estate certificate number (不动产权证书号)")
    address: str = field_doc("location of the property (坐落)")
    area_m2: float = field_doc("building or land area in square metres")
    use: str = field_doc("registered use (用途), e.g. 住宅, 商业服务, 车库")
    ownership: str = field_doc("'sole' (单独所有), 'joint' (共同共有) or 'by_share' (按份共有)")
    share: str | None = field_doc(
        "fraction held under 'by_share' ownership, e.g. '1/2'; None when sole or joint"
    )
    encumbrances: list[Encumbrance] = field_doc("mortgages, seals and objections on record")


@dataclass(frozen=True, slots=True)
class RealEstateRecord:
    """Every property right registered to the subject."""

    # Lists (not tuples) so that to_json() equals its own JSON round trip.
    properties: list[Property] = field_doc("properties held, in certificate order")


@dataclass
class RealEstateConnector(Connector):
    name: ClassVar[str] = "realestate"
    title: ClassVar[str] = "不动产登记"
    max_group: ClassVar[int] = 1
    record_type: ClassVar[type] = RealEstateRecord

    async def query(self, subjects: Sequence[Subject], requester: Requester) -> list[Answer]:
        return [await self._one(subject, requester) for subject in subjects]

    async def _one(self, subject: Subject, requester: Requester) -> Answer:
        try:
            async with asyncio.timeout(self.ready_within):
                return await self._submit_and_poll(subject, requester)
        except TimeoutError as exc:
            raise AgencyTimeout(
                self.name, f"answer not ready within {self.ready_within:g} s"
            ) from exc

    async def _submit_and_poll(self, subject: Subject, requester: Requester) -> Answer:
        body = {"id_number": subject.id_number, "subject_kind": subject.kind}
        response = await self._send(
            "POST", "/v1/inquiries", requester, json_body=body, ok=(200, 202)
        )
        with answer_shape(self.name):
            submitted = obj(response.json(self.name), "answer")
            ticket = text(submitted, "ticket")
            pause = _pause(submitted, POLL_FIRST_S)
        path = f"/v1/inquiries/{quote(ticket, safe='')}"
        while True:
            # A ticket the registry no longer knows: submit the inquiry again.
            response = await self._send("GET", path, requester, forgotten=(404,))
            with answer_shape(self.name):
                status = obj(response.json(self.name), "answer")
                state = text(status, "state")
                if state == "complete":
                    properties = [_property(item) for item in array(status, "properties")]
                    return Found(RealEstateRecord(properties)) if properties else NotFound()
                if state != "pending":
                    raise ShapeError("field 'state' has an unknown value")
                pause = _pause(status, min(pause * 2, POLL_MAX_S))
            # The outer asyncio.timeout bounds the loop; no poll counter needed.
            await asyncio.sleep(pause)


def _pause(answer: Mapping[str, Any], default: float) -> float:
    if "poll_after_ms" not in answer:
        return default
    hint = integer(answer, "poll_after_ms") / 1000
    return min(max(hint, POLL_FIRST_S), POLL_MAX_S)


def _property(item: Any) -> Property:
    data = obj(item, "property")
    return Property(
        certificate_number=text(data, "certificate_no"),
        address=text(data, "location"),
        area_m2=number(data, "area"),
        use=text(data, "purpose"),
        ownership=coded(text(data, "ownership"), "ownership", OWNERSHIP_CODES),
        share=optional_text(data, "share"),
        encumbrances=[_encumbrance(e) for e in array(data, "encumbrances")],
    )


def _encumbrance(item: Any) -> Encumbrance:
    data = obj(item, "encumbrance")
    return Encumbrance(
        kind=coded(text(data, "type"), "type", ENCUMBRANCE_CODES),
        holder=text(data, "holder"),
        registered_on=iso_date(text(data, "registered"), "registered"),
    )
