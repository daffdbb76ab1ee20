"""The officers' pages (role officer, own team only): upload a debtor list, watch the batch,
list the team's batches, cancel, ask again what failed, download the result workbook.

Each action is the API's own handler, reached with the page's session instead of a token
(the session's caller is the request's caller, so the API's rules and audit apply as they
are): ``/batches/upload`` is ``POST /v1/batches/upload``, ``/batches/{id}/progress`` is
``GET /v1/batches/{id}``, and so on. The page's script sends the session's CSRF token in a
header with every POST.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from connectors.household import ITEMS as HOUSEHOLD_ITEMS
from connectors.registry import AGENCIES
from gateway.accountability import batches as views
from gateway.accountability import control_views, sessions
from gateway.http import batches as api
from gateway.http import uploads
from gateway.http.exports import results_spreadsheet
from gateway.http.inputs import batch_id
from gateway.http.keys import CONTROLS, POOL
from gateway.http.web.pages import page, render

#: batches listed on the team's page (newest first)
LISTED = 50


@page("officer")
async def batches_page(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    items, _ = await views.list_batches(request.app[POOL], session.caller, None, LISTED)
    return render(
        request,
        "batches.html",
        {"batches": items, "agencies": AGENCIES, "household_items": HOUSEHOLD_ITEMS},
    )


@page("officer")
async def batch_page(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    target = batch_id(request)
    batch = await views.get_batch(request.app[POOL], session.caller, target)
    assets = await control_views.batch_assets(
        request.app[CONTROLS], request.app[POOL], session.caller, target
    )
    context = {"batch": batch, "totals": _totals(batch), "assets": assets}
    return render(request, "batch.html", context)


def _totals(batch: dict[str, Any]) -> dict[str, int]:
    progress = batch["progress"].values()
    return {
        field: sum(p[field] for p in progress)
        for field in ("total", "done", "found", "not_found", "failed", "waiting")
    }


@page("officer", stream=True)
async def upload(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    return await uploads.upload_batch(request)


@page("officer", stream=True)
async def progress(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    return await api.get_batch(request)


@page("officer", stream=True)
async def cancel(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    return await api.cancel_batch(request)


@page("officer", stream=True)
async def rerun(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    return await api.rerun_overdue(request)


@page("officer")
async def download(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    return await results_spreadsheet(request)
