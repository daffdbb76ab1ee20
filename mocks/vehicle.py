"""Stand-in 车管所 vehicle office: a batch endpoint for at most 50 identifiers."""

from __future__ import annotations

import hashlib
from typing import Any, TypedDict, cast

from aiohttp import web

from mocks.assets import vehicles
from mocks.http import CONTROL, BadRequest, json_response, read_json, subject_of
from mocks.people import Kind
from mocks.records import VehicleEntry

MAX_BATCH = 50


class Result(TypedDict):
    id_number: str
    vehicles: list[VehicleEntry]


async def query(request: web.Request) -> web.Response:
    subjects: Any = (await read_json(request)).get("subjects")
    if not isinstance(subjects, list) or not subjects:
        raise BadRequest("subjects must be a non-empty list")
    items = cast("list[Any]", subjects)
    if len(items) > MAX_BATCH:
        raise BadRequest(f"at most {MAX_BATCH} subjects per request")
    asked: dict[str, Kind] = {}
    for item in items:
        if not isinstance(item, dict):
            raise BadRequest("each subject must be an object")
        id_number, kind = subject_of(cast("dict[str, Any]", item))
        asked[id_number] = kind
    request.app[CONTROL].stats.asked.update(asked.keys())
    results: list[Result] = [
        {"id_number": id_number, "vehicles": vehicles(id_number, kind)}
        for id_number, kind in asked.items()
    ]
    # The office answers in its own (index) order, not the caller's: callers must match by ID.
    results.sort(key=lambda r: hashlib.blake2b(r["id_number"].encode(), digest_size=4).digest())
    return json_response({"results": results})


def setup(app: web.Application) -> None:
    app.router.add_post("/v1/vehicles/query", query)
