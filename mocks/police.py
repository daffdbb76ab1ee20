"""Stand-in 派出所 police: file a whereabouts/assistance request, then poll its ack."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from mocks.http import CONTROL, case_number, json_error, json_response, read_json, subject_of
from mocks.people import Kind, police, police_ack


@dataclass(frozen=True, slots=True)
class Filed:
    id_number: str
    kind: Kind
    case_number: str
    ready_at: float


async def file_request(request: web.Request) -> web.Response:
    id_number, kind = subject_of(await read_json(request))
    case = case_number(request)
    request.app[CONTROL].stats.asked[id_number] += 1
    ack = police_ack(id_number, case)
    control = request.app[CONTROL]
    # Filing again for the same case and person is the same request: same ack, no new work.
    if ack not in control.memory:
        ready_at = asyncio.get_running_loop().time() + control.ready_delay()
        control.memory.put(ack, Filed(id_number, kind, case, ready_at))
    return json_response({"ack": ack, "status": "received"}, 202)


async def status(request: web.Request) -> web.Response:
    ack = request.match_info["ack"]
    filed = request.app[CONTROL].memory.get(ack)
    # A request's status is visible only under the case it was filed for.
    if not isinstance(filed, Filed) or filed.case_number != case_number(request):
        return json_error(404, "unknown acknowledgement number")
    if asyncio.get_running_loop().time() < filed.ready_at:
        return json_response({"ack": ack, "status": "verifying"})
    answer = police(filed.id_number, filed.kind)
    if answer is None:
        return json_response({"ack": ack, "status": "no_record"})
    return json_response({"ack": ack, **answer})


def setup(app: web.Application) -> None:
    app.router.add_post("/v1/assistance", file_request)
    app.router.add_get("/v1/assistance/{ack}", status)
