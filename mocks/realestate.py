"""Stand-in 不动产登记 registry: submit an inquiry, get a ticket, poll until complete."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from aiohttp import web

from mocks.assets import realestate
from mocks.http import CONTROL, json_error, json_response, read_json, subject_of
from mocks.people import Kind

#: the registry's polling hint while it works (realistic mode)
POLL_AFTER_MS = 500


@dataclass(frozen=True, slots=True)
class Ticket:
    id_number: str
    kind: Kind
    ready_at: float


COUNTER = web.AppKey[Iterator[int]]("ticket_counter")


async def submit(request: web.Request) -> web.Response:
    id_number, kind = subject_of(await read_json(request))
    request.app[CONTROL].stats.asked[id_number] += 1
    delay = request.app[CONTROL].ready_delay()
    ticket = f"BDC{next(request.app[COUNTER]):010d}"
    ready_at = asyncio.get_running_loop().time() + delay
    request.app[CONTROL].memory.put(ticket, Ticket(id_number, kind, ready_at))
    return json_response({"ticket": ticket, "poll_after_ms": POLL_AFTER_MS if delay else 0}, 202)


async def status(request: web.Request) -> web.Response:
    ticket_id = request.match_info["ticket"]
    ticket = request.app[CONTROL].memory.get(ticket_id)
    if not isinstance(ticket, Ticket):
        return json_error(404, "unknown ticket")
    if asyncio.get_running_loop().time() < ticket.ready_at:
        return json_response(
            {"ticket": ticket_id, "state": "pending", "poll_after_ms": POLL_AFTER_MS}
        )
    properties = realestate(ticket.id_number, ticket.kind)
    return json_response({"ticket": ticket_id, "state": "complete", "properties": properties})


def setup(app: web.Application) -> None:
    app[COUNTER] = itertools.count(1)
    app.router.add_post("/v1/inquiries", submit)
    app.router.add_get("/v1/inquiries/{ticket}", status)
