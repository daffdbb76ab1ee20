"""派出所 police stations: whereabouts check and judicial-detention assistance (司法拘留).

Protocol, two steps: ``POST /v1/assistance {"id_number", "kind"}`` files a whereabouts check
with a request for detention assistance and answers ``202 {"ack": ...}``; ``GET
/v1/assistance/{ack}`` reports ``{"status": ...}``: ``received``/``verifying`` while the station
works, then ``accepted`` or ``dispatched`` with the whereabouts, or ``no_record``. The ack
number is stable per (case, person): filing the same request again, e.g. on a retry, returns
the same ack and does not create a second assistance request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote

from connectors._shape import ShapeError, answer_shape, iso_date, obj, text
from connectors.base import Answer, Connector, Found, NotFound, Requester, Subject, field_doc
from connectors.errors import AgencyTimeout

WORKING = frozenset({"received", "verifying"})
#: status words meaning the station knows the person and took the assistance request
FOUND = frozenset({"accepted", "dispatched"})
POLL_FIRST_S = 0.05
POLL_MAX_S = 0.5


@dataclass(frozen=True, slots=True)
class PoliceRecord:
    """Whereabouts and the state of the detention-assistance request."""

    ack_number: str = field_doc("the station's acknowledgement number; stable per case and person")
    status: str = field_doc("'accepted' (受理) or 'dispatched' (已派警) for the assistance")
    police_station: str = field_doc("station responsible for the person (管辖派出所)")
    registered_address: str = field_doc("registered address on the police record (户籍地址)")
    last_known_address: str = field_doc("last known actual address (现住址/最后出现地)")
    last_seen_on: str = field_doc("ISO date the last known address was last confirmed")


@dataclass
class PoliceConnector(Connector):
    name: ClassVar[str] = "police"
    title: ClassVar[str] = "派出所(司法拘留)"
    max_group: ClassVar[int] = 1
    record_type: ClassVar[type] = PoliceRecord

    async def query(self, subjects: Sequence[Subject], requester: Requester) -> list[Answer]:
        return [await self._one(subject, requester) for subject in subjects]

    async def _one(self, subject: Subject, requester: Requester) -> Answer:
        # Detention applies to people; an organisation has no whereabouts to check.
        if subject.kind != "person":
            return NotFound()
        try:
            async with asyncio.timeout(self.ready_within):
                return await self._file_and_poll(subject, requester)
        except TimeoutError as exc:
            raise AgencyTimeout(
                self.name, f"answer not ready within {self.ready_within:g} s"
            ) from exc

    async def _file_and_poll(self, subject: Subject, requester: Requester) -> Answer:
        body = {"id_number": subject.id_number, "kind": subject.kind}
        response = await self._send(
            "POST", "/v1/assistance", requester, json_body=body, ok=(200, 202)
        )
        with answer_shape(self.name):
            ack = text(obj(response.json(self.name), "answer"), "ack")
        path = f"/v1/assistance/{quote(ack, safe='')}"
        pause = POLL_FIRST_S
        while True:
            # An acknowledgement the station no longer knows: file the request again.
            response = await self._send("GET", path, requester, forgotten=(404,))
            with answer_shape(self.name):
                data = obj(response.json(self.name), "answer")
                if text(data, "ack") != ack:
                    raise ShapeError("status is for a different request")
                status = text(data, "status")
                if status == "no_record":
                    return NotFound()
                if status in FOUND:
                    return Found(_record(ack, status, data.get("whereabouts")))
                if status not in WORKING:
                    raise ShapeError("field 'status' has an unknown value")
            # The outer asyncio.timeout bounds the loop.
            await asyncio.sleep(pause)
            pause = min(pause * 2, POLL_MAX_S)


def _record(ack: str, status: str, whereabouts: Any) -> PoliceRecord:
    data = obj(whereabouts, "whereabouts")
    return PoliceRecord(
        ack_number=ack,
        status=status,
        police_station=text(data, "station"),
        registered_address=text(data, "registered_address"),
        last_known_address=text(data, "last_known_address"),
        last_seen_on=iso_date(text(data, "last_seen"), "last_seen"),
    )
