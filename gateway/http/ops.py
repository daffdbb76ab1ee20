"""For operations: liveness, readiness, Prometheus metrics, the OpenAPI document."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.core.errors import DatabaseUnavailable
from gateway.http.keys import DRAINING, METRICS, POOL
from gateway.http.models.common import Status
from gateway.http.openapi import Reply, openapi_document, operation
from gateway.http.roles import roles
from gateway.store import db


@roles("public")
@operation("The process is alive", replies={200: (Status, "alive")}, database=False)
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@roles("public")
@operation(
    "The database is reachable",
    replies={200: (Status, "ready"), 503: Reply("not ready", Status)},
)
async def readyz(request: web.Request) -> web.Response:
    if request.app[DRAINING].is_set():  # stopping: the load balancer sends no more
        return web.json_response({"status": "draining"}, status=503)
    try:
        await db.ping(request.app[POOL])
    except DatabaseUnavailable as exc:
        cause = type(exc.__cause__).__name__ if exc.__cause__ else type(exc).__name__
        return web.json_response({"status": "unavailable", "database": cause}, status=503)
    return web.json_response({"status": "ready", "database": "ok"})


@roles("public")
@operation(
    "Prometheus metrics",
    replies={
        200: Reply("text exposition format", media_type="text/plain", schema={"type": "string"})
    },
    database=False,
)
async def metrics(request: web.Request) -> web.Response:
    payload = generate_latest(request.app[METRICS].registry)
    response = web.Response(body=payload)
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response


@roles("public")
@operation(
    "This document",
    replies={200: Reply("OpenAPI 3.1", media_type="application/json", schema={"type": "object"})},
    database=False,
)
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app))
