"""Agency health (``GET /v1/agencies``).

Breaker, retry budget and recent calls are this replica's view (each replica keeps its own);
in flight across replicas and queue depths come from the database.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from connectors.registry import AGENCIES, connector_classes
from gateway.http.keys import DISPATCHER, POOL, SETTINGS
from gateway.http.openapi import register
from gateway.http.roles import roles
from gateway.store import db, inquiries
from gateway.store import limits as store_limits


@roles("officer", "commander")
async def list_agencies(request: web.Request) -> web.Response:
    app = request.app
    async with db.connection(app[POOL]) as conn:
        depth = {row["agency"]: row for row in await inquiries.queue_depth(conn)}
        flying = {row["agency"]: row for row in await store_limits.in_flight(conn)}
    local = app[DISPATCHER].health() if DISPATCHER in app else {}
    titles = {name: cls.title for name, cls in connector_classes().items()}
    items = []
    for name in AGENCIES:
        limits = app[SETTINGS].agencies[name]
        mine = local.get(name)
        queue = depth.get(name)
        global_row = flying.get(name)
        items.append(
            {
                "name": name,
                "title": titles[name],
                "breaker": mine["breaker"] if mine else None,
                "in_flight": {
                    "global": global_row["in_flight"] if global_row else 0,
                    "replicas": global_row["replicas"] if global_row else 0,
                    "local": mine["in_flight_local"] if mine else None,
                    "limit": limits.max_in_flight,
                },
                "max_rps": limits.max_rps,
                "queue": {
                    "queued": queue["queued"] if queue else 0,
                    "leased": queue["leased"] if queue else 0,
                },
                "recent": mine["recent"] if mine else None,
                "retry_budget": mine["retry_budget"] if mine else None,
            }
        )
    return web.json_response({"agencies": items})


# ---------------------------------------------------------------- OpenAPI


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json("Error")}


_AUTH = {"401": _error("no valid token"), "403": _error("role not allowed")}
_BATCH_ID = {"name": "batch_id", "in": "path", "required": True, "schema": {"type": "string"}}
_NULLABLE_NUMBER = {"type": ["number", "null"]}
_COUNT = {"type": "integer", "minimum": 0}

OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/v1/agencies"): {
        "summary": "Agency health: breaker, in flight, queue depth, recent errors and latency",
        "responses": {
            "200": {
                "description": "every agency in registry order",
                "content": _json("AgencyList"),
            },
            **_AUTH,
        },
    },
    ("POST", "/v1/batches/{batch_id}/rerun-unavailable"): {
        "summary": "Ask again what failed only because the agency was unavailable",
        "parameters": [_BATCH_ID],
        "responses": {
            "200": {"description": "requeued", "content": _json("Rerun")},
            "404": _error("no such batch"),
            "409": _error("the batch was cancelled"),
            **_AUTH,
        },
    },
}

SCHEMAS: dict[str, Any] = {
    "AgencyHealth": {
        "type": "object",
        "required": ["name", "title", "breaker", "in_flight", "max_rps", "queue", "recent"],
        "properties": {
            "name": {"type": "string", "enum": list(AGENCIES)},
            "title": {"type": "string"},
            "breaker": {
                "type": ["object", "null"],
                "description": "this replica's circuit breaker (null: it dispatches nothing)",
                "required": ["state", "retry_in_seconds", "unavailable_for_seconds"],
                "properties": {
                    "state": {"type": "string", "enum": ["closed", "open", "half_open"]},
                    "retry_in_seconds": {"type": "number"},
                    "unavailable_for_seconds": _NULLABLE_NUMBER,
                    "opened_total": _COUNT,
                },
            },
            "in_flight": {
                "type": "object",
                "required": ["global", "limit"],
                "properties": {
                    "global": {**_COUNT, "description": "requests in flight, all replicas"},
                    "replicas": _COUNT,
                    "local": {"type": ["integer", "null"]},
                    "limit": _COUNT,
                },
            },
            "max_rps": {"type": "number", "description": "requests per second; 0: no limit"},
            "queue": {
                "type": "object",
                "required": ["queued", "leased"],
                "properties": {"queued": _COUNT, "leased": _COUNT},
            },
            "recent": {
                "type": ["object", "null"],
                "description": "this replica's calls over the last minute",
                "properties": {
                    "calls": _COUNT,
                    "error_rate": _NULLABLE_NUMBER,
                    "median_latency_ms": _NULLABLE_NUMBER,
                },
            },
            "retry_budget": {"type": ["object", "null"], "additionalProperties": _COUNT},
        },
    },
    "AgencyList": {
        "type": "object",
        "required": ["agencies"],
        "properties": {
            "agencies": {"type": "array", "items": {"$ref": "#/components/schemas/AgencyHealth"}}
        },
    },
    "Rerun": {
        "type": "object",
        "required": ["requeued", "batch"],
        "properties": {
            "requeued": {"type": "object", "additionalProperties": _COUNT},
            "batch": {"$ref": "#/components/schemas/Batch"},
        },
    },
}


register(OPERATIONS, SCHEMAS)
