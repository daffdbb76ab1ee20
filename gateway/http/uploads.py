"""Spreadsheet upload of a batch, and results as a spreadsheet (officers work in Excel)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from gateway.accountability import batches as views
from gateway.core.errors import BadRequest, PayloadTooLarge, ValidationFailed
from gateway.http import openapi, params
from gateway.http.intake import accept_batch
from gateway.http.keys import CIPHER, POOL, SETTINGS
from gateway.http.middleware import caller
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


@roles("officer")
async def upload_batch(request: web.Request) -> web.StreamResponse:
    """multipart/form-data: case_number, reason, agencies (comma-separated, optional), file."""
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
    agencies = form.get("agencies")
    if isinstance(agencies, str) and agencies.strip():
        body["agencies"] = [a.strip() for a in agencies.split(",") if a.strip()]
    try:
        return await accept_batch(request, body)
    except ValidationFailed as exc:
        raise with_sheet_rows(exc, rows) from None


@roles("officer")
async def results_spreadsheet(request: web.Request) -> web.StreamResponse:
    batch_id = params.batch_id(request)
    pool, cipher, who = request.app[POOL], request.app[CIPHER], caller(request)
    batch = await views.get_batch(pool, who, batch_id)
    items: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        page, after = await views.results_page(pool, cipher, who, batch_id, after, EXPORT_PAGE)
        items += [without_photo_data(item) for item in page]  # not kept: 100 kB each
    # Building the workbook takes CPU time: off the event loop, so other requests are served.
    payload = await asyncio.to_thread(write_results, batch, items)
    return web.Response(
        body=payload,
        content_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="results-{batch_id}.xlsx"'},
    )


def _read_upload(upload: web.FileField, *, max_subjects: int, max_unpacked: int) -> SheetRows:
    return read_subjects(upload.file.read(), max_subjects=max_subjects, max_unpacked=max_unpacked)


OPENAPI = (
    {
        ("POST", "/v1/batches/upload"): {
            "summary": "Submit a batch as a spreadsheet (first sheet; headings 姓名, 身份证号)",
            "parameters": [
                {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["case_number", "reason", "file"],
                            "properties": {
                                "case_number": {"type": "string"},
                                "reason": {"type": "string"},
                                "agencies": {"type": "string", "description": "comma-separated"},
                                "file": {"type": "string", "format": "binary"},
                            },
                        }
                    }
                },
            },
            "responses": {
                "202": {"description": "accepted", "content": openapi.json_content("Batch")},
                "400": openapi.error_response("not multipart"),
                "413": openapi.error_response("too large"),
                "422": openapi.error_response(
                    "unreadable workbook, or invalid rows (problems carry sheet_row)"
                ),
                **openapi.AUTH_ERRORS,
            },
        },
        ("GET", "/v1/batches/{batch_id}/results.xlsx"): {
            "summary": "A batch's results as an .xlsx workbook",
            "parameters": [openapi.BATCH_ID],
            "responses": {
                "200": {
                    "description": "the workbook",
                    "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
                },
                "404": openapi.error_response("no such batch"),
                **openapi.AUTH_ERRORS,
            },
        },
    },
    {},
)
openapi.register(*OPENAPI)
