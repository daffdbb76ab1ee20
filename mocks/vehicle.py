"""Stand-in 车管所 vehicle office: a batch endpoint for at most 50 identifiers."""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from connectors.vehicle import STATUS_CODES, Vehicle
from mocks.assets import full_vin, vehicles
from mocks.http import BadRequest, json_response, read_json, subject_of

MAX_BATCH = 50
_STATUS = {ours: theirs for theirs, ours in STATUS_CODES.items()}


async def query(request: web.Request) -> web.Response:
    subjects = (await read_json(request)).get("subjects")
    if not isinstance(subjects, list) or not subjects:
        raise BadRequest("subjects must be a non-empty list")
    if len(subjects) > MAX_BATCH:
        raise BadRequest(f"at most {MAX_BATCH} subjects per request")
    asked: dict[str, Any] = {}
    for item in subjects:
        if not isinstance(item, dict):
            raise BadRequest("each subject must be an object")
        id_number, kind = subject_of(item)
        asked[id_number] = kind
    results = []
    for id_number, kind in asked.items():
        record = vehicles(id_number, kind)
        found = [] if record is None else [_wire(v) for v in record.vehicles]
        results.append({"id_number": id_number, "vehicles": found})
    # The office answers in its own (index) order, not the caller's: callers must match by ID.
    results.sort(key=lambda r: hashlib.blake2b(r["id_number"].encode(), digest_size=4).digest())
    return json_response({"results": results})


def _wire(v: Vehicle) -> dict[str, Any]:
    brand, _, model = v.brand_model.partition(" ")
    return {
        "plate": v.plate,
        "vehicle_type": v.vehicle_type,
        "brand": brand,
        "model": model,
        "vin": full_vin(v),
        "registered": v.registered_on,
        "status": _STATUS[v.status],
    }


def setup(app: web.Application) -> None:
    app.router.add_post("/v1/vehicles/query", query)
