"""HTTP plumbing shared by every stand-in agency: the control middleware and small helpers.

The middleware refuses requests without a lawful basis (officer and case headers), applies
limits, latency and faults, and counts everything. Admin paths (``/admin/...``) bypass it.
Nothing here logs an identifier or a name.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast
from urllib.parse import unquote

from aiohttp import web

from mocks.faults import AgencyControl
from mocks.population import Kind, kind_of

CONTROL = web.AppKey("control", AgencyControl)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: bodies larger than this are refused (413) before any handler reads them
MAX_BODY = 256 * 1024


class BadRequest(Exception):
    """The request is wrong; becomes a 400 with a JSON (or XML) error body."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False))


def json_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


async def read_json(request: web.Request) -> Mapping[str, Any]:
    try:
        data = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return cast("dict[str, Any]", data)  # JSON object keys are always strings


def subject_of(data: Mapping[str, Any], id_key: str = "id_number") -> tuple[str, Kind]:
    """The identifier asked about and its kind; malformed identifiers are refused."""
    value = data.get(id_key)
    if not isinstance(value, str):
        raise BadRequest(f"{id_key} is required")
    kind = kind_of(value)
    if kind is None:
        raise BadRequest(f"{id_key} is not a valid resident ID or credit code")
    claimed = data.get("kind", data.get("subject_kind"))
    if claimed is not None and claimed != kind:
        raise BadRequest("subject kind does not match the identifier")
    return value, kind


def case_number(request: web.Request) -> str:
    return unquote(request.headers.get("X-Requester-Case", ""))


@web.middleware
async def control_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/admin/"):
        return await _plain(request, handler)
    control = request.app[CONTROL]
    stats = control.stats
    stats.requests += 1
    response = await _controlled(request, handler, control)
    transport = request.transport
    if transport is not None and not transport.is_closing():  # resets answer nothing
        stats.by_status[response.status] += 1
    return response


async def _controlled(
    request: web.Request, handler: Handler, control: AgencyControl
) -> web.StreamResponse:
    stats = control.stats
    if control.faults.outage:
        stats.faults["outage"] += 1
        return json_error(503, "service outage")
    officer = request.headers.get("X-Requester-Officer", "").strip()
    case = request.headers.get("X-Requester-Case", "").strip()
    if not officer or not case:
        # The 2013 rules: every request names the officer and the case. No basis, no answer.
        stats.missing_requester += 1
        return json_error(400, "X-Requester-Officer and X-Requester-Case are required")
    stats.by_officer[unquote(officer)] += 1
    now = asyncio.get_running_loop().time()
    refusal = control.admit(now)
    if refusal is not None:
        status, _breach = refusal
        retry = {"Retry-After": str(control.retry_after(now))}
        return json_error(status, "too many requests", headers=retry)
    control.in_flight += 1
    stats.peak_in_flight = max(stats.peak_in_flight, control.in_flight)
    try:
        delay = control.request_delay()
        if delay:
            await asyncio.sleep(delay)
        fault = control.draw_fault()
        if fault is None:
            return await _plain(request, handler)
        stats.faults[fault] += 1
        return await _inject(fault, request, handler, control)
    finally:
        control.in_flight -= 1


async def _plain(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except BadRequest as exc:
        return json_error(400, exc.message)
    except web.HTTPException as exc:
        # aiohttp's own 404/405/413 as JSON, like the rest of the agency's answers.
        if exc.status >= 400:
            return json_error(exc.status, exc.reason)
        raise


async def _inject(
    fault: str, request: web.Request, handler: Handler, control: AgencyControl
) -> web.StreamResponse:
    if fault == "500":
        return json_error(500, "internal error")
    if fault == "503":
        return json_error(503, "service unavailable")  # no Retry-After: plain unavailability
    if fault == "429":
        return json_error(429, "too many requests", headers={"Retry-After": "1"})
    if fault == "400":
        return json_error(400, "request refused")  # permanent: asking again will not help
    if fault == "hang":
        await control.hang()
        return json_error(503, "shutting down")
    if fault == "reset":
        _drop_connection(request)
        return web.Response(status=500)  # never reaches the client
    # The remaining faults spoil a real answer, so the handler runs (and has its effects).
    response = await _plain(request, handler)
    if not isinstance(response, web.Response) or not isinstance(response.body, bytes):
        return response
    body = response.body
    if fault == "malformed":
        # Half a JSON or XML document is unparseable; half a PNG lacks its IEND chunk.
        return web.Response(
            status=response.status, body=body[: len(body) // 2], content_type=response.content_type
        )
    if fault == "content_type":
        # What a proxy's maintenance page looks like to a client expecting data.
        return web.Response(
            status=200, text="<html><body>维护中</body></html>", content_type="text/html"
        )
    return await _truncated(request, response, body)


async def _truncated(
    request: web.Request, response: web.Response, body: bytes
) -> web.StreamResponse:
    """Promise the whole body, send half, then drop the connection."""
    stream = web.StreamResponse(status=response.status)
    stream.content_type = response.content_type
    stream.content_length = len(body)
    await stream.prepare(request)
    await stream.write(body[: len(body) // 2])
    _drop_connection(request)
    return stream


def _drop_connection(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()
