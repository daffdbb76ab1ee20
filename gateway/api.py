"""HTTP handlers, version 1. Each declares who may call it with ``@roles``."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway import api_admin, api_audit, api_command, batches, policy
from gateway.api_common import limit, read_json
from gateway.auth import Caller, roles
from gateway.errors import PayloadTooLarge, ValidationFailed
from gateway.middleware import CALLER
from gateway.openapi import openapi_document
from gateway.queries import sql
from gateway.state import CIPHER, DISPATCHER, METRICS, POOL, SETTINGS
from gateway.validation import parse_batch_request

MAX_IDEMPOTENCY_KEY = 200


def caller(request: web.Request) -> Caller:
    """Who is calling (set by the auth middleware on every non-public route)."""
    return request[CALLER]


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise ValidationFailed(
            [
                {
                    "row": None,
                    "field": "Idempotency-Key",
                    "problem": f"must be 1 to {MAX_IDEMPOTENCY_KEY} printable characters",
                }
            ]
        )
    return key


@roles("officer")
async def submit_batch(request: web.Request) -> web.Response:
    return await accept_batch(request, await read_json(request))


async def accept_batch(request: web.Request, body: Any) -> web.Response:
    """Validate and store a submission however it arrived (JSON here, or a spreadsheet)."""
    settings = request.app[SETTINGS]
    key = _idempotency_key(request)
    metrics = request.app[METRICS]
    try:
        batch_request = parse_batch_request(body, max_subjects=settings.max_subjects)
    except (ValidationFailed, PayloadTooLarge) as exc:
        metrics.batches_rejected.labels(exc.code).inc()
        if isinstance(exc, ValidationFailed):
            await policy.record_malformed_case(request.app, caller(request), exc)
        raise
    pool = request.app[POOL]
    # Through the accountability rules; an interception is audited and counted, then 403.
    batch_id, replayed = await policy.submit(request.app, caller(request), batch_request, key)
    if not replayed:
        metrics.batches_submitted.inc()
        metrics.subjects_submitted.inc(len(batch_request.subjects))
        if DISPATCHER in request.app:
            request.app[DISPATCHER].wake()
    batch = await batches.get_batch(pool, caller(request), batch_id)
    headers = {"Location": f"/v1/batches/{batch_id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return web.json_response(batch, status=202, headers=headers)


@roles("officer", "commander")
async def list_batches(request: web.Request) -> web.Response:
    page = await batches.list_batches(
        request.app[POOL], caller(request), request.query.get("cursor"), limit(request, 50)
    )
    return web.json_response(page)


@roles("officer", "commander")
async def get_batch(request: web.Request) -> web.Response:
    batch_id = batches.parse_batch_id(request.match_info["batch_id"])
    return web.json_response(await batches.get_batch(request.app[POOL], caller(request), batch_id))


@roles("officer")
async def batch_results(request: web.Request) -> web.Response:
    batch_id = batches.parse_batch_id(request.match_info["batch_id"])
    page = await batches.results_page(
        request.app[POOL],
        request.app[CIPHER],
        caller(request),
        batch_id,
        request.query.get("cursor"),
        limit(request),
    )
    return web.json_response(page)


@roles("officer")
async def cancel_batch(request: web.Request) -> web.Response:
    batch_id = batches.parse_batch_id(request.match_info["batch_id"])
    body = await batches.cancel(request.app[POOL], caller(request), batch_id)
    if DISPATCHER in request.app:
        request.app[DISPATCHER].cancel_batch(str(batch_id))
    return web.json_response(body)


@roles("public")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@roles("public")
async def readyz(request: web.Request) -> web.Response:
    try:
        async with request.app[POOL].acquire(timeout=2) as conn:
            await conn.fetchval(sql("readiness_probe"))
    except Exception as exc:  # any failure to reach the database means "not ready"
        return web.json_response(
            {"status": "unavailable", "database": type(exc).__name__}, status=503
        )
    return web.json_response({"status": "ready", "database": "ok"})


@roles("public")
async def metrics(request: web.Request) -> web.Response:
    payload = generate_latest(request.app[METRICS].registry)
    response = web.Response(body=payload)
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response


@roles("public")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/batches", submit_batch)
    app.router.add_get("/v1/batches", list_batches)
    app.router.add_get("/v1/batches/{batch_id}", get_batch)
    app.router.add_get("/v1/batches/{batch_id}/results", batch_results)
    app.router.add_post("/v1/batches/{batch_id}/cancel", cancel_batch)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi)
    api_admin.add_routes(app)
    api_command.add_routes(app)
    api_audit.add_routes(app)
    from gateway import api_spreadsheets  # imports this module: bound late

    api_spreadsheets.add_routes(app)
    from gateway import api_agencies  # issue 4: agency health and re-runs

    api_agencies.add_routes(app)
