"""Middlewares: one canonical log line per request, errors as JSON, and authentication."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from gateway.accountability.auth import Caller, authenticate
from gateway.core.errors import DatabaseUnavailable, Forbidden, RequestError
from gateway.http.keys import METRICS, POOL
from gateway.http.roles import allowed_roles

log = structlog.get_logger("gateway.http")
CALLER = web.RequestKey("caller", Caller)
REQUEST_ID = web.RequestKey("request_id", str)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_body(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def caller(request: web.Request) -> Caller:
    """Who is calling (set by ``require_role`` on every route that is not public)."""
    return request[CALLER]


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "(unmatched)"


@web.middleware
async def canonical_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Exactly one line per request, with what the command centre needs and no personal data."""
    structlog.contextvars.clear_contextvars()
    # A caller's id is kept only if it is plainly an id: it goes into every log line and back
    # out in a header, so odd bytes (not UTF-8, control characters) get a fresh one instead.
    request_id = request.headers.get("X-Request-Id", "")
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", request_id):
        request_id = uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()
    status = 500
    try:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            status = exc.status  # a redirect or refusal raised: logged as what was sent
            raise
        except asyncio.CancelledError:
            # The client went away, or the server gave up waiting for it at shutdown: not a
            # server error. 499 as nginx logs it.
            status = 499
            raise
        status = response.status
        response.headers["X-Request-Id"] = request_id
        return response
    finally:
        elapsed = time.perf_counter() - started
        route = _route(request)
        metrics = request.app[METRICS]
        metrics.http_requests.labels(request.method, route, str(status)).inc()
        metrics.http_latency.labels(route).observe(elapsed)
        caller = request.get(CALLER)
        log.info(
            "http_request",
            method=request.method,
            route=route,
            status=status,
            ms=round(elapsed * 1000, 1),
            officer=caller.officer if caller else None,
            role=caller.role if caller else None,
        )


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes a JSON body; no traceback ever reaches the caller."""
    # Every Content-Encoding header counts: aiohttp decodes by the last, a check by the first
    # would let "identity, then gzip" through.
    encodings = [e.strip().lower() for e in request.headers.getall("Content-Encoding", [])]
    if request.body_exists and any(e != "identity" for e in encodings):
        # Bodies are taken as sent: an upload is a zip already, and a compressed body would
        # pass the size limit as something else.
        return await _closing(
            request,
            415,
            "unsupported_media_type",
            "request bodies are taken uncompressed; send this one without Content-Encoding",
        )
    try:
        return await handler(request)
    except RequestError as exc:
        return web.json_response(exc.body(), status=exc.status)
    except web.RequestPayloadError:
        # The body broke off mid-way or does not decode: the caller's fault.
        return await _closing(request, 400, "bad_request", "the body cannot be read as it was sent")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = (exc.reason or "error").lower().replace(" ", "_")
        return error_body(exc.status, code, exc.reason or "error")
    except DatabaseUnavailable as exc:
        log.warning("database_unavailable", error=type(exc).__name__)
        return error_body(503, "unavailable", "the database is unavailable; try again shortly")
    except Exception:
        log.exception("unhandled_error", route=_route(request))
        return error_body(500, "internal", "internal error; the request was not completed")


async def _closing(request: web.Request, status: int, code: str, message: str) -> web.Response:
    """An error answered at once, after which the connection closes with the rest of the body
    unread. Left to aiohttp, an unread body is drained after the answer, for up to 10 s: a body
    that does not decode would fail there again and be logged as a crash, and one cut short
    would hold the connection waiting for bytes that never come."""
    response = error_body(status, code, message)
    response.force_close()  # says so: "Connection: close"
    response.headers["X-Request-Id"] = request[REQUEST_ID]
    try:
        await response.prepare(request)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the caller went away first: nobody to answer
    request.protocol.force_close()  # the answer is written; the transport sends it, then closes
    return response


@web.middleware
async def require_role(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.match_info.http_exception is not None:
        return await handler(request)  # no route: 404 or 405, nothing to guard
    allowed = allowed_roles(request.match_info.handler)
    if allowed is None:
        # Fail closed: a handler that forgot @roles is nobody's, not everybody's.
        log.error("route_without_roles", route=_route(request))
        raise Forbidden("this endpoint declares no roles; nobody may call it")
    if "public" in allowed:
        return await handler(request)
    caller = await authenticate(request.app[POOL], request.headers.get("Authorization"))
    request[CALLER] = caller
    structlog.contextvars.bind_contextvars(officer=caller.officer)
    if caller.role not in allowed:
        raise Forbidden(f"the {caller.role} role may not do this", allowed=list(allowed))
    return await handler(request)
