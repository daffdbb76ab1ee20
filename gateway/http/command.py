"""Command-centre API (执行指挥中心): risk alerts, approvals of held batches, statistics.

Commanders see every batch's status and figures, never the personal data inside results.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from connectors.registry import AGENCIES
from gateway.accountability import alerts, report
from gateway.accountability import batches as views
from gateway.accountability.auth import Caller
from gateway.core.errors import ValidationFailed
from gateway.http import cursors
from gateway.http.inputs import batch_id, json_response, query_model, read_model
from gateway.http.keys import DISPATCHER, METRICS, POLICY, POOL, SETTINGS
from gateway.http.middleware import caller
from gateway.http.models.batches import Batch
from gateway.http.models.command import (
    AlertPage,
    AlertQuery,
    Decision,
    Statistics,
    StatsQuery,
)
from gateway.http.openapi import operation
from gateway.http.roles import roles
from gateway.store import db, stats
from gateway.store import rules as store_rules

STATUSES = ("pending_approval", "queued", "running", "done", "cancelled", "rejected")


def _zone(request: web.Request) -> dict[str, Any]:
    return {"tz": alerts.zone(request.app[SETTINGS])}


def _until_after_since(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and until <= since:
        problem = {"row": None, "field": "until", "problem": "must be after since"}
        raise ValidationFailed([problem])


@roles("commander")
@operation(
    "Risk alerts, newest first (no personal data: subjects by digest)",
    query=AlertQuery,
    replies={200: (AlertPage, "a page"), 400: "bad cursor", 422: "bad filter"},
)
async def list_alerts(request: web.Request) -> web.Response:
    query = query_model(request, AlertQuery, _zone(request))
    after = cursors.parse(query.cursor, lambda v: cursors.time_of(v, cursors.parse_id))
    size = query.limit or 100
    async with db.connection(request.app[POOL]) as conn:
        rows = await store_rules.list_alerts(
            conn,
            kind=query.kind,
            team=query.team,
            officer=query.officer,
            batch_id=query.batch_id,
            since=query.since,
            until=query.until,
            after=after,
            limit=size + 1,
        )
    items = [
        {
            "id": r["id"],
            "at": r["at"],
            "kind": r["kind"],
            "officer": r["officer"],
            "team": r["team"],
            "batch_id": r["batch_id"],
            "subject_digest": r["subject_digest"].hex() if r["subject_digest"] else None,
            "detail": r["detail"],
        }
        for r in rows[:size]
    ]
    last = rows[size - 1] if len(rows) > size else None
    next_cursor = cursors.of_time(last["at"], last["id"]) if last else None
    return json_response(AlertPage.model_validate({"items": items, "next_cursor": next_cursor}))


async def _decide(request: web.Request, decision: views.Decision) -> web.Response:
    body = await read_model(request, Decision, optional=True)
    batch = await decide_batch(request, caller(request), decision, body.note)
    return json_response(Batch.model_validate(batch))


async def decide_batch(
    request: web.Request, who: Caller, decision: views.Decision, note: str | None
) -> dict[str, Any]:
    """Approve (-> queued, the dispatcher is woken) or reject (-> rejected, final) the batch
    the path names: the API's and the wall page's one way to decide."""
    target = batch_id(request)
    policy = request.app[POLICY]
    batch = await views.decide(
        request.app[POOL],
        who,
        target,
        decision,
        note,
        now=policy.clock(),
        deadlines=policy.settings.answer_deadlines(AGENCIES),
    )
    request.app[METRICS].approvals.labels(decision).inc()
    if DISPATCHER in request.app:
        dispatcher = request.app[DISPATCHER]
        if decision == "approved":
            dispatcher.wake(*batch["agencies"])
        else:
            dispatcher.cancel_batch(str(target))  # wakes anyone waiting for it to finish
    return batch


_DECISION_REPLIES = {
    200: (Batch, "the batch"),
    400: "the body is not JSON",
    404: "no such batch",
    409: "the batch is not pending approval",
    413: "the body is too large",
    422: "invalid note",
}


@roles("commander")
@operation(
    "Approve a batch held for approval: it is queued and dispatched",
    body=Decision,
    body_required=False,
    replies=_DECISION_REPLIES,
)
async def approve_batch(request: web.Request) -> web.Response:
    return await _decide(request, "approved")


@roles("commander")
@operation(
    "Reject a batch held for approval (final; nothing is asked)",
    body=Decision,
    body_required=False,
    replies=_DECISION_REPLIES,
)
async def reject_batch(request: web.Request) -> web.Response:
    return await _decide(request, "rejected")


@roles("commander")
@operation(
    "Statistics: the court's report per agency and team (batches, people, found, assets, "
    "detentions assisted, overdue) and its sentence, outcomes, throughput",
    query=StatsQuery,
    replies={200: (Statistics, "the figures"), 422: "bad since/until"},
)
async def statistics(request: web.Request) -> web.Response:
    """The command centre's periodic statistics: per agency, per team, by status."""
    query = query_model(request, StatsQuery, _zone(request))
    since, until = query.since, query.until
    _until_after_since(since, until)
    window = (since, until)
    async with db.connection(request.app[POOL]) as conn:
        figures = await report.gather(conn, since, until)
        late_after = request.app[SETTINGS].waiting_warning
        now = request.app[POLICY].clock()
        inquiries = {
            r["agency"]: r for r in await stats.agency_inquiries(conn, window, late_after, now)
        }
        recent = {r["agency"]: r for r in await stats.throughput(conn)}
        teams = await stats.teams(conn, window)
        statuses = await stats.statuses(conn, window)
        kinds = await stats.alerts(conn, window)
        holds = await report.control_figures(conn, since, until)
    agencies: dict[str, dict[str, Any]] = {}
    for agency in AGENCIES:
        counts = figures.total[agency].to_json()
        for name in ("inquiries", "not_found", "failed", "waiting", "late", "cancelled"):
            counts[name] = inquiries[agency][name] if agency in inquiries else 0
        for name in ("last_minute", "last_hour"):
            counts[f"completed_{name}"] = recent[agency][name] if agency in recent else 0
        agencies[agency] = counts
    body: dict[str, Any] = {
        "since": since,
        "until": until,
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
        "by_team": [
            {
                "team": team,
                "agencies": {agency: c.to_json() for agency, c in counts.items()},
                "sentence": report.sentence(counts),
            }
            for team, counts in figures.teams.items()
        ],
        "sentence": report.sentence(figures.total),
        "controls": {**holds.to_json(), "sentence": holds.sentence()},
    }
    return json_response(Statistics.model_validate(body))
