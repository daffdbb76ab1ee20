"""Agency health (``GET /v1/agencies``).

Breaker, retry budget and recent calls are this replica's view (each replica keeps its own);
in flight across replicas and queue depths come from the database.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from connectors.registry import AGENCIES, connector_classes
from gateway.http.inputs import json_response
from gateway.http.keys import DISPATCHER, POLICY, POOL, SETTINGS
from gateway.http.models.agencies import AgencyList
from gateway.http.openapi import operation
from gateway.http.roles import roles
from gateway.store import db, figures, inquiries
from gateway.store import limits as store_limits


@roles("officer", "commander")
@operation(
    "Agency health: breaker, in flight, queue depth, recent errors and latency",
    replies={200: (AgencyList, "every agency, in registry order")},
)
async def list_agencies(request: web.Request) -> web.Response:
    items = await agency_health(request.app)
    return json_response(AgencyList.model_validate({"agencies": items}))


async def agency_health(app: web.Application) -> list[dict[str, Any]]:
    """Every agency's health, in registry order (the API's and the dashboard's)."""
    async with db.connection(app[POOL]) as conn:
        depth = {row["agency"]: row for row in await figures.queue_depth(conn)}
        flying = {row["agency"]: row for row in await store_limits.in_flight(conn)}
        settings = app[SETTINGS]
        now = app[POLICY].clock()
        late = await inquiries.waiting(conn, settings.waiting_warning, now)
    waiting = {row["agency"]: row for row in late}
    local = app[DISPATCHER].health() if DISPATCHER in app else {}
    titles = {name: cls.title for name, cls in connector_classes().items()}
    items: list[dict[str, Any]] = []
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
                    "held": queue["held"] if queue else 0,
                    "waiting": waiting[name]["waiting"] if name in waiting else 0,
                    "late": waiting[name]["late"] if name in waiting else 0,
                },
                "recent": mine["recent"] if mine else None,
                "retry_budget": mine["retry_budget"] if mine else None,
            }
        )
    return items
