"""Command-centre API (执行指挥中心): risk alerts, approvals of held batches, statistics.

Commanders see every batch's status and figures, never the personal data inside results.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from connectors.registry import AGENCIES
from gateway.accountability import alerts
from gateway.accountability import batches as views
from gateway.http.keys import DISPATCHER, METRICS, POOL
from gateway.http.middleware import caller
from gateway.http.openapi import register
from gateway.http.params import batch_id as batch_id_of
from gateway.http.params import (
    cursor_parts,
    limit,
    optional_text,
    page,
    problem,
    query_text,
    query_time,
    read_object,
    time_cursor,
)
from gateway.http.roles import roles
from gateway.store import db, stats
from gateway.store import rules as store_rules

STATUSES = ("pending_approval", "queued", "running", "done", "cancelled", "rejected")


@roles("commander")
async def list_alerts(request: web.Request) -> web.Response:
    kind = request.query.get("kind")
    if kind is not None and kind not in alerts.KINDS:
        raise problem("kind", f"must be one of {', '.join(alerts.KINDS)}")
    batch_id = None
    if "batch_id" in request.query:
        try:
            batch_id = uuid.UUID(request.query["batch_id"])
        except ValueError as exc:
            raise problem("batch_id", "must be a batch id (UUID)") from exc
    after = cursor_parts(request)
    size = limit(request)
    async with db.connection(request.app[POOL]) as conn:
        rows = await store_rules.list_alerts(
            conn,
            kind=kind,
            team=query_text(request, "team"),
            officer=query_text(request, "officer"),
            batch_id=batch_id,
            since=query_time(request, "since"),
            until=query_time(request, "until"),
            after=after,
            limit=size + 1,
        )
    items = [
        {
            "id": r["id"],
            "at": r["at"].isoformat(),
            "kind": r["kind"],
            "officer": r["officer"],
            "team": r["team"],
            "batch_id": str(r["batch_id"]) if r["batch_id"] else None,
            "subject_digest": r["subject_digest"].hex() if r["subject_digest"] else None,
            "detail": r["detail"],
        }
        for r in rows[:size]
    ]
    last = rows[size - 1] if len(rows) > size else None
    return page(items, time_cursor(last["at"], last["id"]) if last else None)


async def _decide(request: web.Request, decision: views.Decision) -> web.Response:
    """Approve (-> queued, the dispatcher is woken) or reject (-> rejected, final)."""
    batch_id = batch_id_of(request)
    body = await read_object(request, frozenset({"note"}), optional=True)
    note = optional_text(body, "note")
    batch = await views.decide(request.app[POOL], caller(request), batch_id, decision, note)
    request.app[METRICS].approvals.labels(decision).inc()
    if DISPATCHER in request.app:
        dispatcher = request.app[DISPATCHER]
        if decision == "approved":
            dispatcher.wake()
        else:
            dispatcher.cancel_batch(str(batch_id))  # wakes anyone waiting for it to finish
    return web.json_response(batch)


@roles("commander")
async def approve_batch(request: web.Request) -> web.Response:
    return await _decide(request, "approved")


@roles("commander")
async def reject_batch(request: web.Request) -> web.Response:
    return await _decide(request, "rejected")


@roles("commander")
async def statistics(request: web.Request) -> web.Response:
    """The command centre's periodic statistics: per agency, per team, by status."""
    since, until = query_time(request, "since"), query_time(request, "until")
    if since is not None and until is not None and until <= since:
        raise problem("until", "must be after since")
    window = (since, until)
    async with db.connection(request.app[POOL]) as conn:
        by_agency = {r["agency"]: r for r in await stats.agency_batches(conn, window)}
        inquiries = {r["agency"]: r for r in await stats.agency_inquiries(conn, window)}
        recent = {r["agency"]: r for r in await stats.throughput(conn)}
        teams = await stats.teams(conn, window)
        statuses = await stats.statuses(conn, window)
        kinds = await stats.alerts(conn, window)
    agencies: dict[str, dict[str, int]] = {}
    for agency in AGENCIES:
        figures = {"batches": 0, "people": 0}
        if agency in by_agency:
            figures = {
                "batches": by_agency[agency]["batches"],
                "people": by_agency[agency]["people"],
            }
        for name in ("inquiries", "found", "not_found", "failed", "waiting", "cancelled"):
            figures[name] = inquiries[agency][name] if agency in inquiries else 0
        for name in ("last_minute", "last_hour"):
            figures[f"completed_{name}"] = recent[agency][name] if agency in recent else 0
        agencies[agency] = figures
    body: dict[str, Any] = {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "agencies": agencies,
        "teams": [
            {
                "team": r["team"],
                "batches": r["batches"],
                "subjects": r["subjects"],
                "officers": r["officers"],
            }
            for r in teams
        ],
        "batches": {status: statuses.get(status, 0) for status in STATUSES},
        "alerts": {kind: kinds.get(kind, 0) for kind in alerts.KINDS},
    }
    return web.json_response(body)


# ---------------------------------------------------------------- OpenAPI


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json("Error")}


def _counts(names: tuple[str, ...]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(names),
        "properties": {n: {"type": "integer", "minimum": 0} for n in names},
    }


_AUTH = {"401": _error("no valid token"), "403": _error("role not allowed")}
_BATCH_ID = {"name": "batch_id", "in": "path", "required": True, "schema": {"type": "string"}}
_WINDOW = [
    {"name": "since", "in": "query", "schema": {"type": "string"}, "description": "ISO date/time"},
    {"name": "until", "in": "query", "schema": {"type": "string"}, "description": "exclusive"},
]
_AGENCY_FIGURES = (
    "batches",
    "people",
    "inquiries",
    "found",
    "not_found",
    "failed",
    "waiting",
    "cancelled",
    "completed_last_minute",
    "completed_last_hour",
)

SCHEMAS: dict[str, Any] = {
    "Alert": {
        "type": "object",
        "required": ["id", "at", "kind", "officer", "team", "batch_id", "subject_digest", "detail"],
        "properties": {
            "id": {"type": "integer"},
            "at": {"type": "string", "format": "date-time"},
            "kind": {"type": "string", "enum": list(alerts.KINDS)},
            "officer": {"type": "string"},
            "team": {"type": "string"},
            "batch_id": {"type": ["string", "null"], "format": "uuid"},
            "subject_digest": {
                "type": ["string", "null"],
                "description": "keyed hash of the subject's ID (hex); never the ID itself",
            },
            "detail": {"type": "object"},
        },
    },
    "AlertPage": {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    "Decision": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"note": {"type": "string", "maxLength": 2000}},
    },
    "Statistics": {
        "type": "object",
        "required": ["since", "until", "agencies", "teams", "batches", "alerts"],
        "properties": {
            "since": {"type": ["string", "null"]},
            "until": {"type": ["string", "null"]},
            "agencies": {"type": "object", "additionalProperties": _counts(_AGENCY_FIGURES)},
            "teams": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["team", "batches", "subjects", "officers"],
                    "properties": {
                        "team": {"type": "string"},
                        **_counts(("batches", "subjects", "officers"))["properties"],
                    },
                },
            },
            "batches": _counts(STATUSES),
            "alerts": _counts(alerts.KINDS),
        },
    },
}

_DECISION = {
    "parameters": [_BATCH_ID],
    "requestBody": {"required": False, "content": _json("Decision")},
    "responses": {
        "200": {"description": "the batch", "content": _json("Batch")},
        "404": _error("no such batch"),
        "409": _error("not pending_approval"),
        **_AUTH,
    },
}

OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/v1/alerts"): {
        "summary": "Risk alerts, newest first (no personal data: subjects by digest)",
        "parameters": [
            {
                "name": "kind",
                "in": "query",
                "schema": {"type": "string", "enum": list(alerts.KINDS)},
            },
            {"name": "team", "in": "query", "schema": {"type": "string"}},
            {"name": "officer", "in": "query", "schema": {"type": "string"}},
            {"name": "batch_id", "in": "query", "schema": {"type": "string", "format": "uuid"}},
            *_WINDOW,
            {"name": "cursor", "in": "query", "schema": {"type": "string"}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        ],
        "responses": {
            "200": {"description": "a page", "content": _json("AlertPage")},
            "400": _error("bad cursor"),
            "422": _error("bad filter"),
            **_AUTH,
        },
    },
    ("POST", "/v1/batches/{batch_id}/approve"): {
        "summary": "Approve a batch held for approval: it is queued and dispatched",
        **_DECISION,
    },
    ("POST", "/v1/batches/{batch_id}/reject"): {
        "summary": "Reject a batch held for approval (final; nothing is asked)",
        **_DECISION,
    },
    ("GET", "/v1/stats"): {
        "summary": "Statistics: batches and people per agency, outcomes, throughput, teams",
        "parameters": _WINDOW,
        "responses": {
            "200": {"description": "the figures", "content": _json("Statistics")},
            "422": _error("bad since/until"),
            **_AUTH,
        },
    },
}


register(OPERATIONS, SCHEMAS)
