"""Serving a batch's results as a file: ``GET /v1/batches/{id}/results?format=...`` (and the
older ``/results.xlsx``).

Memory stays bounded however large the batch: results are read from the database a page at a
time. CSV and JSON Lines are written to the response page by page. A workbook or a zip cannot
be sent before it is complete (its directory comes last), so it is written page by page into
a scratch directory, off the event loop, and then sent from disk in chunks; the directory,
which holds personal data, is removed whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

import structlog
from aiohttp import web

from gateway.accountability import batches as views
from gateway.http.exports.cells import XLSX
from gateway.http.exports.streams import PhotoZip, csv_head, csv_page, jsonl_page
from gateway.http.exports.workbook import ResultsWorkbook
from gateway.http.inputs import batch_id
from gateway.http.keys import CIPHER, POOL, SETTINGS
from gateway.http.middleware import caller
from gateway.http.models.exports import ExportFormat
from gateway.http.openapi import Reply, operation
from gateway.http.roles import roles

log = structlog.get_logger("gateway.http")

#: results are read for export in pages of this size (the batch may hold 600,000)
EXPORT_PAGE = 500
#: a file is sent in reads of this size
CHUNK = 256 * 1024
MEDIA: dict[str, str] = {
    "xlsx": XLSX,
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
    "photos": "application/zip",
}
#: what the file holds, in its name (after the case number)
NAMES: dict[str, str] = {
    "xlsx": "查控结果.xlsx",
    "csv": "查控结果.csv",
    "jsonl": "查控结果.jsonl",
    "photos": "电子头像.zip",
}
_NOT_IN_FILENAMES = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')

T = TypeVar("T")
Reader = Callable[..., Awaitable[tuple[list[dict[str, Any]], int | None]]]


@roles("officer")
@operation(
    "A batch's results as an .xlsx workbook (the same as results?format=xlsx)",
    replies={
        200: Reply("the workbook", media_type=XLSX, schema={"type": "string", "format": "binary"}),
        404: "no such batch",
        410: "its personal data was purged after the retention period",
    },
)
async def results_spreadsheet(request: web.Request) -> web.StreamResponse:
    return await export_results(request, "xlsx")


async def export_results(request: web.Request, fmt: ExportFormat) -> web.StreamResponse:
    """The batch's results as a file in ``fmt``; 404 unless the caller's team's batch."""
    target = batch_id(request)
    # Refused before anything is sent: a batch another team's or nobody's is a 404 body, a
    # purged one a 410.
    batch = await views.get_kept_batch(request.app[POOL], caller(request), target)
    headers = {
        "Content-Type": MEDIA[fmt],
        "Content-Disposition": content_disposition(batch["case_number"], target, fmt),
        # Personal data: no copy kept by a browser's or a proxy's cache.
        "Cache-Control": "no-store",
    }
    if fmt in ("csv", "jsonl"):
        return await _send_lines(request, target, batch["status"], fmt, headers)
    scratch = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="gateway-export-"))
    try:
        if fmt == "xlsx":
            path = await _workbook(request, target, batch, scratch)
        else:
            path = await _photos(request, target, scratch)
        return await _send_file(request, path, headers)
    finally:
        await asyncio.to_thread(shutil.rmtree, scratch, True)


def content_disposition(case_number: str, target: uuid.UUID, fmt: str) -> str:
    """An attachment named after the case (RFC 6266 with RFC 5987's UTF-8 form, as browsers
    read it), with an ASCII name for clients that know only the plain form."""
    fallback = f"results-{target}.{NAMES[fmt].rsplit('.', 1)[1]}"
    case = _NOT_IN_FILENAMES.sub("", case_number).strip()
    name = f"{case}_{NAMES[fmt]}" if case else NAMES[fmt]
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


async def _pages(request: web.Request, target: uuid.UUID, reader: Reader) -> AsyncIterator[Any]:
    pool, cipher, who = request.app[POOL], request.app[CIPHER], caller(request)
    after: int | None = 0
    while after is not None:
        page, after = await reader(pool, cipher, who, target, after, EXPORT_PAGE)
        yield page


async def _off_loop(work: Callable[..., T], *args: Any) -> T:
    """``work(*args)`` in a worker thread (building a file takes CPU time; other requests are
    served meanwhile). Cancelled (the server stopping), it still waits for the thread: the
    thread cannot be stopped, and the file and the scratch directory must not be discarded
    while it writes to them."""
    running = asyncio.ensure_future(asyncio.to_thread(work, *args))
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await running
        raise


async def _workbook(
    request: web.Request, target: uuid.UUID, batch: dict[str, Any], scratch: Path
) -> Path:
    zone = ZoneInfo(request.app[SETTINGS].timezone)
    book = await _off_loop(ResultsWorkbook, batch, scratch, zone)
    try:
        async for page in _pages(request, target, views.export_page):
            await _off_loop(book.add, page)
        path = scratch / "results.xlsx"
        await _off_loop(book.save, path)
    except BaseException:
        await _off_loop(book.discard)
        raise
    return path


async def _photos(request: web.Request, target: uuid.UUID, scratch: Path) -> Path:
    path = scratch / "photos.zip"
    archive = await _off_loop(PhotoZip, path)
    try:
        async for page in _pages(request, target, views.results_page):
            await _off_loop(archive.add, page)
    finally:
        await _off_loop(archive.close)
    return path


async def _send_file(
    request: web.Request, path: Path, headers: dict[str, str]
) -> web.StreamResponse:
    size = (await asyncio.to_thread(path.stat)).st_size
    response = web.StreamResponse(headers=headers)
    response.content_length = size
    await response.prepare(request)
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            await response.write(chunk)
    except ConnectionError:
        return response  # the client went away; nothing to tell it
    finally:
        await asyncio.to_thread(handle.close)
    await response.write_eof()
    return response


async def _send_lines(
    request: web.Request,
    target: uuid.UUID,
    batch_status: str,
    fmt: str,
    headers: dict[str, str],
) -> web.StreamResponse:
    response = web.StreamResponse(headers=headers)
    response.enable_chunked_encoding()
    await response.prepare(request)
    written = 0
    try:
        if fmt == "csv":
            await response.write(csv_head())
        async for page in _pages(request, target, views.results_page):
            if fmt == "csv":
                encoded = await asyncio.to_thread(csv_page, page, batch_status)
            else:
                encoded = await asyncio.to_thread(jsonl_page, page)
            await response.write(encoded)
            written += len(page)
    except Exception as exc:
        # The status line is sent: an error body now would be read as the file's last lines.
        # Cutting the connection before the last chunk tells the client the file is partial.
        log.warning("export_cut_short", format=fmt, written=written, error=type(exc).__name__)
        if request.transport is not None:
            request.transport.abort()
        return response
    await response.write_eof()
    return response
