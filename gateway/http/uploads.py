"""A batch uploaded as a list: a CSV file or an .xlsx workbook (officers work in Excel).

Refused, the answer is JSON naming every bad row as the sheet shows it; a client that asks for
a workbook (``Accept`` the .xlsx type) gets the same report as one, to hand back to whoever
keeps the list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from gateway.accountability.admission import record_malformed_case
from gateway.accountability.rules import Intercepted
from gateway.core.errors import BadRequest, PayloadTooLarge, ValidationFailed
from gateway.http.exports import XLSX, write_text_sheet
from gateway.http.inputs import refused
from gateway.http.intake import accept_batch, parse_submission
from gateway.http.keys import METRICS, POLICY, POOL, SETTINGS
from gateway.http.lists import (
    SheetRows,
    read_csv,
    with_intercepted_sheet_rows,
    with_sheet_rows,
)
from gateway.http.middleware import caller
from gateway.http.models.batches import Batch
from gateway.http.openapi import IDEMPOTENCY_KEY, operation
from gateway.http.roles import roles
from gateway.http.spreadsheets import read_subjects

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
    "Submit a batch as a list: CSV (UTF-8 or GB18030) or .xlsx (first sheet); headings "
    "姓名/身份证号 or 单位名称/统一社会信用代码, in Chinese or English, any order",
    raw_body=_UPLOAD,
    headers=[IDEMPOTENCY_KEY],
    replies={
        202: (Batch, "accepted"),
        400: "not multipart, or a part that cannot be read",
        403: "the role may not submit, or a rule intercepted the batch (subjects it names "
        "are named by sheet_rows too)",
        413: "the upload, the unpacked workbook or the list is too large",
        422: "an unreadable list, or invalid rows (problems carry sheet_row); an .xlsx "
        "report of them instead when the Accept header asks for that type",
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
            [{"row": None, "field": "file", "problem": "a .csv or .xlsx file is required"}]
        )
    try:
        try:
            # Parsing takes CPU time: off the event loop, so other requests are served. The
            # upload lies in a temporary file (aiohttp's): read from there, never whole.
            rows = await asyncio.to_thread(
                _read_upload,
                upload,
                max_subjects=settings.max_subjects,
                max_unpacked=UNPACKED_FACTOR * settings.max_body_bytes,
            )
        except (ValidationFailed, PayloadTooLarge) as exc:
            # A list refused before its rows are checked counts as refused, as the rest do.
            request.app[METRICS].batches_rejected.labels(exc.code).inc()
            raise
        body: dict[str, Any] = {
            "case_number": form.get("case_number"),
            "reason": form.get("reason"),
            "subjects": rows.subjects,
        }
        requery_reason = form.get("requery_reason")
        if isinstance(requery_reason, str) and requery_reason.strip():
            body["requery_reason"] = requery_reason
        _chosen(form, body)
        if rows.numeric:
            refusal = _with_numeric(rows, body, settings.max_subjects)
            request.app[METRICS].batches_rejected.labels(refusal.code).inc()
            # refused here, before the intake that audits a malformed case number: so here
            await record_malformed_case(
                request.app[POLICY], request.app[POOL], caller(request), refusal
            )
            raise with_sheet_rows(refusal, rows)
        try:
            return await accept_batch(request, body)
        except ValidationFailed as exc:
            raise with_sheet_rows(exc, rows) from None
        except Intercepted as exc:
            raise with_intercepted_sheet_rows(exc, rows) from None
    except ValidationFailed as exc:
        if XLSX in request.headers.get("Accept", ""):
            return await _report_workbook(exc)
        raise


def _chosen(form: Mapping[str, Any], body: dict[str, Any]) -> None:
    """The agencies and household items the form names, comma-separated. A field left out
    means the default (all); a field sent empty (nothing ticked) means none, which is refused,
    never widened to all: police and photo requests the officer did not choose would go out
    under their name. Household items matter only when the household registry is asked."""
    for field in ("agencies", "household_items"):
        value = form.get(field)
        if isinstance(value, str):
            body[field] = [v.strip() for v in value.split(",") if v.strip()]
    agencies = body.get("agencies")
    asks_household = agencies is None or "household" in agencies
    if body.get("household_items") == [] and not asks_household:
        del body["household_items"]


def _with_numeric(rows: SheetRows, body: dict[str, Any], max_subjects: int) -> ValidationFailed:
    """Identifiers Excel stored as numbers, and every other problem of the list with them (the
    officer fixes them all at once); nothing is stored."""
    numeric = set(rows.numeric)
    problems = rows.numeric_problems()
    try:
        parse_submission(body, max_subjects=max_subjects)
    except ValidationFailed as exc:
        problems += [
            p for p in exc.problems if not (p.get("row") in numeric and p["field"] == "id_number")
        ]
    return refused(sorted(problems, key=lambda p: (p.get("row") is not None, p.get("row") or 0)))


#: a ZIP archive's first bytes: an .xlsx workbook is one
_ZIP_MAGIC = b"PK\x03\x04"


def _read_upload(upload: web.FileField, *, max_subjects: int, max_unpacked: int) -> SheetRows:
    file = upload.file
    file.seek(0)
    if file.read(4) == _ZIP_MAGIC:
        return read_subjects(file, max_subjects=max_subjects, max_unpacked=max_unpacked)
    file.seek(0)
    return read_csv(file, max_subjects=max_subjects)


#: the refusal report's columns, as the officer reads them
_REPORT_HEADINGS = ("表格行号", "字段", "问题")


async def _report_workbook(error: ValidationFailed) -> web.Response:
    rows = [_REPORT_HEADINGS] + [
        (
            str(p.get("sheet_row") or ""),
            str(p.get("field") or ""),
            str(p.get("problem") or ""),
        )
        for p in error.problems
    ]
    payload = await asyncio.to_thread(write_text_sheet, "问题", rows)
    return web.Response(
        status=422,
        body=payload,
        content_type=XLSX,
        headers={"Content-Disposition": 'attachment; filename="problems.xlsx"'},
    )
