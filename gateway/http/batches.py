"""Batches: submit (JSON), list, status and progress, results, cancel, re-run."""

from __future__ import annotations

from aiohttp import web

from gateway.accountability import batches as views
from gateway.http import params
from gateway.http.intake import accept_batch
from gateway.http.keys import CIPHER, DISPATCHER, POOL
from gateway.http.middleware import caller
from gateway.http.roles import roles


@roles("officer")
async def submit_batch(request: web.Request) -> web.Response:
    return await accept_batch(request, await params.read_json(request))


@roles("officer", "commander")
async def list_batches(request: web.Request) -> web.Response:
    after = params.cursor(request, lambda v: params.parse_time_cursor(v, params.parse_uuid))
    items, last = await views.list_batches(
        request.app[POOL], caller(request), after, params.limit(request, 50)
    )
    return params.page(items, params.time_cursor(*last) if last else None)


@roles("officer", "commander")
async def get_batch(request: web.Request) -> web.Response:
    batch = await views.get_batch(request.app[POOL], caller(request), params.batch_id(request))
    return web.json_response(batch)


@roles("officer")
async def batch_results(request: web.Request) -> web.Response:
    batch_id = params.batch_id(request)
    after = params.cursor(request, params.parse_id_cursor) or 0
    items, last = await views.results_page(
        request.app[POOL],
        request.app[CIPHER],
        caller(request),
        batch_id,
        after,
        params.limit(request),
    )
    return params.page(items, params.id_cursor(last) if last is not None else None)


@roles("officer")
async def cancel_batch(request: web.Request) -> web.Response:
    batch_id = params.batch_id(request)
    body = await views.cancel(request.app[POOL], caller(request), batch_id)
    if DISPATCHER in request.app:
        request.app[DISPATCHER].cancel_batch(str(batch_id))
    return web.json_response(body)


@roles("officer")
async def rerun_unavailable(request: web.Request) -> web.Response:
    """Queue afresh this batch's inquiries that failed "agency unavailable"."""
    requeued, batch = await views.rerun_unavailable(
        request.app[POOL], caller(request), params.batch_id(request)
    )
    if requeued and DISPATCHER in request.app:
        request.app[DISPATCHER].wake()
    return web.json_response({"requeued": requeued, "batch": batch})
