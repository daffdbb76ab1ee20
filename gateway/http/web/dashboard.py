"""The command centre's wall page (``/dashboard``, commander): inquiries completed per minute
per agency over the last hour, each agency's queue, waiting, late and overdue inquiries, error
rate, median latency and breaker, the batches under way with their progress, the batches held
for approval (approve or reject from the page), the controls awaiting approval (decided from
the page too), the holds in effect and those expiring, and the latest alerts.

The page is rendered whole on the server; then ``/dashboard/events`` (server-sent events)
sends a fresh snapshot every few seconds, and the browser's EventSource reconnects by itself
after the gateway restarts. No personal data: case numbers, teams, officers and counts.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from aiohttp import web
from aiohttp_sse import sse_response

from connectors.registry import AGENCIES
from gateway.accountability import batches as views
from gateway.accountability import control_views, sessions
from gateway.core.errors import DatabaseError, ShuttingDown
from gateway.core.jsonvalues import as_object
from gateway.http.agencies import agency_health
from gateway.http.command import decide_batch
from gateway.http.keys import CONTROLS, POLICY, POOL, SETTINGS
from gateway.http.web.pages import SECURITY_HEADERS, SESSION_COOKIE, page, render, see_other
from gateway.store import dashboard as store
from gateway.store import db
from gateway.store import rules as store_rules

log = structlog.get_logger("gateway.http.web")


#: set when the gateway begins to shut down: the open event streams end, and a stream asked
#: for afterwards is refused
CLOSING = web.AppKey("dashboard_closing", asyncio.Event)
#: the event streams open now (each a request's task)
STREAMS = web.AppKey("dashboard_streams", set[asyncio.Task[Any]])
#: at shutdown, how long a stream may take to end by itself before it is cut: one stuck in a
#: snapshot (a database that does not answer) or a send (a browser that stopped reading)
STREAM_END_SECONDS = 2.0
#: seconds between snapshots on the wall
REFRESH_SECONDS = 2.0
HOUR = timedelta(hours=1)
OPEN_BATCHES = 30
HELD_BATCHES = 50
ALERTS = 10


async def snapshot(app: web.Application) -> dict[str, Any]:
    """Everything the wall shows, as JSON-ready values; times in the courts' time zone
    (GATEWAY_TIMEZONE), which the page shows as they are."""
    now = app[POLICY].clock()
    zone = ZoneInfo(app[SETTINGS].timezone)
    health = await agency_health(app)
    async with db.connection(app[POOL]) as conn:
        minutes = await store.completed_per_minute(conn, now - HOUR)
        # Held batches apart: however many run, the oldest HELD_BATCHES awaiting approval are
        # on the wall (any more come up as these are decided).
        open_rows = [
            *await store.open_batches(conn, ["pending_approval"], HELD_BATCHES),
            *await store.open_batches(conn, ["queued", "running"], OPEN_BATCHES),
        ]
        progress = await store.batches_progress(conn, [row["id"] for row in open_rows])
        overdue = await store.overdue_per_agency(conn, now - timedelta(days=1))
        holds = await control_views.wall(app[CONTROLS], conn)
        alert_rows = await store_rules.list_alerts(
            conn,
            kind=None,
            team=None,
            officer=None,
            batch_id=None,
            since=None,
            until=None,
            after=None,
            limit=ALERTS,
        )
    start = int((now - HOUR).timestamp()) // 60 * 60
    axis = [start + 60 * i for i in range(61)]
    series = {agency: [0] * len(axis) for agency in AGENCIES}
    for row in minutes:
        index = (row["minute"] - start) // 60
        if 0 <= index < len(axis) and row["agency"] in series:
            series[row["agency"]][index] = row["completed"]
    by_batch: dict[uuid.UUID, dict[str, dict[str, int]]] = {}
    for row in progress:
        by_batch.setdefault(row["batch_id"], {})[row["agency"]] = {
            "total": row["total"],
            "done": row["done"],
            "failed": row["failed"],
            "waiting": row["waiting"],
        }
    return {
        "at": now.astimezone(zone).isoformat(),
        "agencies": [
            {
                "name": item["name"],
                # this replica's view; "unknown" where it runs no dispatcher
                "breaker": (as_object(item["breaker"]) or {}).get("state", "unknown"),
                "completed": sum(series.get(item["name"], ())),
                "queued": item["queue"]["queued"],
                "leased": item["queue"]["leased"],
                "waiting": item["queue"]["waiting"],
                "late": item["queue"]["late"],
                "overdue": overdue.get(item["name"], 0),
                "error_rate": (as_object(item["recent"]) or {}).get("error_rate"),
                "median_latency_ms": (as_object(item["recent"]) or {}).get("median_latency_ms"),
            }
            for item in health
        ],
        # the court's offset from UTC: the chart's clock is the court's, not the browser's
        "throughput": {
            "minutes": axis,
            "series": series,
            "offset": int((now.astimezone(zone).utcoffset() or timedelta()).total_seconds()),
        },
        "batches": [_batch(row, by_batch.get(row["id"], {})) for row in open_rows],
        "controls": holds,
        "alerts": [
            {
                "at": row["at"].astimezone(zone).isoformat(),
                "kind": row["kind"],
                "officer": row["officer"],
                "team": row["team"],
            }
            for row in alert_rows
        ],
    }


def _batch(row: Any, progress: dict[str, dict[str, int]]) -> dict[str, Any]:
    total = sum(p["total"] for p in progress.values())
    done = sum(p["done"] for p in progress.values())
    return {
        "id": str(row["id"]),
        "case_number": row["case_number"],
        "status": row["status"],
        "team": row["team"],
        "officer": row["officer"],
        "subjects": row["subject_count"],
        "created_at": row["created_at"].isoformat(),
        "done": done,
        "total": total,
        "percent": round(100 * done / total) if total else 0,
        "agencies": progress,
    }


@page("commander")
async def dashboard(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    data = await snapshot(request.app)
    return render(
        request,
        "dashboard.html",
        {"data": data, "agencies": AGENCIES},
    )


@page("commander", stream=True)
async def events(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    """A snapshot now and every ``REFRESH_SECONDS``, while the browser listens and its
    session lasts (signing out, expiry or a revoked token end the stream: the page then
    finds itself sent to sign in). A database gone away ends it too; the page reconnects."""
    closing = request.app[CLOSING]
    if closing.is_set():
        # Its request may have been past the session check when shutdown began: streaming
        # on, it held the shutdown until aiohttp gave up waiting (twice its 60 s timeout).
        raise ShuttingDown
    task = asyncio.current_task()
    assert task is not None
    streams = request.app[STREAMS]
    streams.add(task)
    pool = request.app[POOL]
    try:
        async with sse_response(request, headers=SECURITY_HEADERS) as stream:
            try:
                while stream.is_connected() and not closing.is_set():
                    data = await snapshot(request.app)
                    await stream.send(json.dumps(data, ensure_ascii=False), event="snapshot")
                    if await _closed_within(closing, REFRESH_SECONDS):  # the refresh rate
                        break
                    cookie = request.cookies.get(SESSION_COOKIE, "")
                    if await sessions.find(pool, cookie) is None:
                        break
            except DatabaseError as exc:
                # The stream has begun: no error response can follow it. It ends, and the
                # browser asks again.
                log.warning("dashboard_stream_ended", error=type(exc).__name__)
        return stream
    finally:
        streams.discard(task)


async def _closed_within(closing: asyncio.Event, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            await closing.wait()
    except TimeoutError:
        return False
    return True


async def close_streams(app: web.Application) -> None:
    """At shutdown: end the open event streams, each after the snapshot it may be sending
    (browsers reconnect to another replica, or to this one once it is back), instead of
    holding the shutdown for them; one that has not ended within ``STREAM_END_SECONDS`` is
    cut."""
    app[CLOSING].set()
    open_now = set(app[STREAMS])
    if open_now:
        _, stuck = await asyncio.wait(open_now, timeout=STREAM_END_SECONDS)
        for task in stuck:
            task.cancel()


async def _decide(
    request: web.Request, session: sessions.Session, decision: views.Decision
) -> web.StreamResponse:
    await decide_batch(request, session.caller, decision, None)
    return see_other("/dashboard")


@page("commander")
async def approve(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    return await _decide(request, session, "approved")


@page("commander")
async def reject(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    return await _decide(request, session, "rejected")
