"""Batches: submit (JSON), list, status and progress, results, cancel, re-run."""

from __future__ import annotations

from aiohttp import web

from gateway.accountability import batches as views
from gateway.http import cursors
from gateway.http.exports import XLSX, export_results
from gateway.http.inputs import batch_id, json_response, query_model, read_json
from gateway.http.intake import accept_batch
from gateway.http.keys import CIPHER, DISPATCHER, POLICY, POOL, SETTINGS
from gateway.http.middleware import caller
from gateway.http.models.batches import Batch, BatchPage, BatchSubmission, Rerun, ResultPage
from gateway.http.models.common import PageQuery
from gateway.http.models.exports import ResultsQuery
from gateway.http.openapi import IDEMPOTENCY_KEY, operation
from gateway.http.roles import roles


@roles("officer")
@operation(
    "Submit a batch of judgment debtors for one filed case",
    body=BatchSubmission,
    headers=[IDEMPOTENCY_KEY],
    replies={
        202: (Batch, "accepted (or, with header Idempotent-Replayed, the first one replayed)"),
        400: "the body is not JSON",
        403: "the role may not submit, or a rule intercepted the batch (reason in the body)",
        413: "the body or the batch is too large",
        422: "invalid fields or rows, or an Idempotency-Key reused; nothing stored",
    },
)
async def submit_batch(request: web.Request) -> web.Response:
    return await accept_batch(request, await read_json(request))


@roles("officer", "commander")
@operation(
    "Batches visible to the caller (an officer: their team's), newest first",
    query=PageQuery,
    replies={200: (BatchPage, "a page"), 400: "bad cursor", 422: "bad limit"},
)
async def list_batches(request: web.Request) -> web.Response:
    query = query_model(request, PageQuery)
    after = cursors.parse(query.cursor, lambda v: cursors.time_of(v, cursors.parse_uuid))
    items, last = await views.list_batches(
        request.app[POOL], caller(request), after, query.limit or 50
    )
    page = BatchPage.model_validate(
        {"items": items, "next_cursor": cursors.of_time(*last) if last else None}
    )
    return json_response(page)


@roles("officer", "commander")
@operation(
    "A batch's status and progress per agency",
    replies={200: (Batch, "the batch"), 404: "no such batch"},
)
async def get_batch(request: web.Request) -> web.Response:
    batch = await views.get_batch(request.app[POOL], caller(request), batch_id(request))
    return json_response(Batch.model_validate(batch))


@roles("officer")
@operation(
    "A batch's results, in subject order, a page at a time (or with format, as a file)",
    description="While the batch runs, a walk shows what is recorded so far; walk again once "
    "it is done. With format, every result at once as a file (Content-Disposition names it "
    "after the case): xlsx (media type " + XLSX + "), csv (text/csv, UTF-8 with BOM), "
    "jsonl (application/x-ndjson, one result per line as this page's items) or photos "
    "(application/zip).",
    query=ResultsQuery,
    replies={
        200: (ResultPage, "a page (without format)"),
        400: "bad cursor",
        404: "no such batch",
        410: "its names, identifiers and agency records were purged (GATEWAY_RETENTION_DAYS)",
        422: "bad limit, or a format other than xlsx, csv, jsonl or photos",
    },
)
async def batch_results(request: web.Request) -> web.StreamResponse:
    query = query_model(request, ResultsQuery)
    if query.format is not None:
        return await export_results(request, query.format)
    after = cursors.parse(query.cursor, cursors.id_of) or 0
    items, last = await views.results_page(
        request.app[POOL],
        request.app[CIPHER],
        caller(request),
        batch_id(request),
        after,
        query.limit or 100,
    )
    next_cursor = cursors.of_id(last) if last is not None else None
    return json_response(ResultPage.model_validate({"items": items, "next_cursor": next_cursor}))


@roles("officer")
@operation(
    "Cancel a batch; inquiries not yet answered are never asked",
    replies={
        200: (Batch, "cancelled"),
        404: "no such batch",
        409: "the batch has already finished",
    },
)
async def cancel_batch(request: web.Request) -> web.Response:
    target = batch_id(request)
    body = await views.cancel(request.app[POOL], caller(request), target)
    if DISPATCHER in request.app:
        request.app[DISPATCHER].cancel_batch(str(target))
    return json_response(Batch.model_validate(body))


@roles("officer")
@operation(
    "Ask again what failed because the agency gave no answer within its deadline",
    replies={
        200: (Rerun, "requeued"),
        404: "no such batch",
        409: "the batch was cancelled",
        410: "its personal data was purged after the retention period",
    },
)
async def rerun_overdue(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    requeued, batch = await views.rerun_overdue(
        request.app[POOL],
        caller(request),
        batch_id(request),
        settings.answer_deadlines(list(settings.agencies)),
        request.app[POLICY].clock(),
    )
    if requeued and DISPATCHER in request.app:
        request.app[DISPATCHER].wake(*requeued)
    return json_response(Rerun.model_validate({"requeued": requeued, "batch": batch}))
