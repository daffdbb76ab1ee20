"""Spreadsheet upload of a batch, and results as a spreadsheet (officers work in Excel)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from gateway.accountability import batches as views
from gateway.core.errors import BadRequest, PayloadTooLarge, ValidationFailed
from gateway.http.inputs import batch_id
from gateway.http.intake import accept_batch
from gateway.http.keys import CIPHER, POOL, SETTINGS
from gateway.http.middleware import caller
from gateway.http.models.batches import Batch
from gateway.http.openapi import IDEMPOTENCY_KEY, Reply, operation
from gateway.http.roles import roles
from gateway.http.spreadsheets import (
    XLSX,
    SheetRows,
    read_subjects,
    with_sheet_rows,
    without_photo_data,
    write_results,
)

#: results are read for export in pages of this size (the batch may hold 600,000)
EXPORT_PAGE = 500
#: an uploaded workbook may unpack to this many times GATEWAY_MAX_BODY_BYTES; more is taken
#: for a zip bomb (413) and not parsed
UNPACKED_FACTOR = 20


_UPLOAD = {
    "multipart/form-data": {
        "type": "object",
        "required": ["case_number", "reason", "file"],
        "properties": {
            "case_number": {"type": "string"},
            "reason": {"type": "string"},
            "agencies": {"type": "string", "description": "comma-separated"},
            "household_items": {
                "type": "string",
                "description": "comma-separated: identity, photo (default both)",
            },
            "file": {"type": "string", "format": "binary"},
        },
    }
}


@roles("officer")
@operation(
    "Submit a batch as a spreadsheet (first sheet; headings 姓名, 身份证号)",
    raw_body=_UPLOAD,
    headers=[IDEMPOTENCY_KEY],
    replies={
        202: (Batch, "accepted"),
        400: "not multipart, or a part that cannot be read",
        403: "the role may not submit, or a rule intercepted the batch",
        413: "the upload, the unpacked workbook or the list is too large",
        422: "an unreadable workbook, or invalid rows (problems carry sheet_row)",
    },
)
async def upload_batch(request: web.Request) -> web.StreamResponse:
    """multipart/form-data: case_number, reason, agencies and household_items
    (comma-separated, optional), file."""
    if request.content_type != "multipart/form-data":
        raise BadRequest("expected multipart/form-data with fields case_number, reason, file")
    settings = request.app[SETTINGS]
    try:
        form = await request.post()
    except web.HTTPRequestEntityTooLarge as exc:
        raise PayloadTooLarge(f"the upload is larger than {settings.max_body_bytes} bytes") from exc
    # A part may name an unknown charset (LookupError) or transfer encoding (RuntimeError), or
    # carry headers that are not headers (HttpProcessingError, e.g. BadHttpMessage).
    except (ValueError, LookupError, RuntimeError, HttpProcessingError) as exc:
        raise BadRequest("the multipart body cannot be read") from exc
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        raise ValidationFailed(
            [{"row": None, "field": "file", "problem": "an .xlsx file is required"}]
        )
    # Parsing a workbook takes CPU time: off the event loop, so other requests are served.
    rows = await asyncio.to_thread(
        _read_upload,
        upload,
        max_subjects=settings.max_subjects,
        max_unpacked=UNPACKED_FACTOR * settings.max_body_bytes,
    )
    body: dict[str, Any] = {
        "case_number": form.get("case_number"),
        "reason": form.get("reason"),
        "subjects": rows.subjects,
    }
    for field in ("agencies", "household_items"):
        value = form.get(field)
        if isinstance(value, str) and value.strip():
            body[field] = [v.strip() for v in value.split(",") if v.strip()]
    try:
        return await accept_batch(request, body)
    except ValidationFailed as exc:
        raise with_sheet_rows(exc, rows) from None


@roles("officer")
@operation(
    "A batch's results as an .xlsx workbook",
    replies={
        200: Reply("the workbook", media_type=XLSX, schema={"type": "string", "format": "binary"}),
        404: "no such batch",
    },
)
async def results_spreadsheet(request: web.Request) -> web.StreamResponse:
    target = batch_id(request)
    pool, cipher, who = request.app[POOL], request.app[CIPHER], caller(request)
    batch = await views.get_batch(pool, who, target)
    items: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        page, after = await views.results_page(pool, cipher, who, target, after, EXPORT_PAGE)
        items += [without_photo_data(item) for item in page]  # not kept: 100 kB each
    # Building the workbook takes CPU time: off the event loop, so other requests are served.
    payload = await asyncio.to_thread(write_results, batch, items)
    return web.Response(
        body=payload,
        content_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="results-{target}.xlsx"'},
    )


def _read_upload(upload: web.FileField, *, max_subjects: int, max_unpacked: int) -> SheetRows:
    return read_subjects(upload.file.read(), max_subjects=max_subjects, max_unpacked=max_unpacked)
