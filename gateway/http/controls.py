"""Control actions (freeze 冻结, seal 查封, seize 扣押) and 终本 closures: the API."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.accountability import closures, control_records, controls
from gateway.accountability.cases import canonical_case_number
from gateway.core.errors import NotFound, ValidationFailed
from gateway.http import cursors
from gateway.http.inputs import json_response, path_id, query_model, read_model
from gateway.http.keys import CONTROL_SENDER, CONTROLS, POOL
from gateway.http.middleware import caller
from gateway.http.models.controls import (
    CaseHistory,
    ClosureBody,
    Control,
    ControlDecision,
    ControlPage,
    ControlQuery,
    ControlRequestBody,
    RenewalBody,
)
from gateway.http.openapi import operation
from gateway.http.roles import roles

_NOT_FOUND = "no such control (or not your team's)"


def control_id(request: web.Request) -> int:
    return path_id(request, "control_id", _NOT_FOUND)


def case_number(request: web.Request) -> str:
    """The ``{case_number}`` path segment; one that is not a case number names no case."""
    try:
        return canonical_case_number(request.match_info["case_number"])
    except ValidationFailed as exc:
        raise NotFound("no such case for your team") from exc


def _wake(request: web.Request) -> None:
    """This replica's sender looks at the outbox now (the others within their poll)."""
    if CONTROL_SENDER in request.app:
        request.app[CONTROL_SENDER].wake()


def _control(body: dict[str, Any], status: int = 200) -> web.Response:
    return json_response(Control.model_validate(body), status=status)


@roles("officer", "commander")
@operation(
    "Ask to freeze, seal or seize an asset a result found; held for a commander's approval",
    body=ControlRequestBody,
    replies={
        201: (Control, "held for approval"),
        400: "the body is not JSON",
        404: "no such result for your team",
        409: "the asset already has a live control on this case",
        410: "the result's record was purged",
        413: "the body is too large",
        422: "invalid fields: an action the agency does not take, a term too long, an asset "
        "the result did not find, an amount missing or not wanted",
    },
)
async def request_control(request: web.Request) -> web.Response:
    body = await read_model(request, ControlRequestBody)
    wanted = controls.ControlRequest(
        body.batch_id, body.row, body.agency, body.asset, body.action, body.reason,
        body.term_days, body.amount,
    )  # fmt: skip
    made = await controls.request_control(
        request.app[CONTROLS], request.app[POOL], caller(request), wanted
    )
    return _control(made, 201)


@roles("officer", "commander")
@operation(
    "Controls, newest first (an officer: the team's)",
    query=ControlQuery,
    replies={200: (ControlPage, "a page"), 400: "bad cursor", 422: "bad filter"},
)
async def list_controls(request: web.Request) -> web.Response:
    query = query_model(request, ControlQuery)
    after = cursors.parse(query.cursor, cursors.parse_id)
    case = None if query.case_number is None else canonical_case_number(query.case_number)
    size = query.limit or 50
    items, last = await control_records.list_controls(
        request.app[CONTROLS], request.app[POOL], caller(request), case_number=case,
        status=query.status, expiring_within=query.expiring_within, after=after, limit=size,
    )  # fmt: skip
    page = {"items": items, "next_cursor": None if last is None else cursors.of_id(last)}
    return json_response(ControlPage.model_validate(page))


@roles("officer", "commander")
@operation("One control", replies={200: (Control, "the control"), 404: _NOT_FOUND})
async def get_control(request: web.Request) -> web.Response:
    made = await control_records.get_control(
        request.app[CONTROLS], request.app[POOL], caller(request), control_id(request)
    )
    return _control(made)


_DECISION_REPLIES = {
    200: (Control, "the control"),
    400: "the body is not JSON",
    403: "the one who asked may not decide",
    404: _NOT_FOUND,
    409: "the control is not pending approval",
    413: "the body is too large",
    422: "invalid note, or an over-freeze approved without override_reason",
}


async def _decide(request: web.Request, decision: controls.Decision) -> web.Response:
    body = await read_model(request, ControlDecision, optional=True)
    made = await controls.decide(
        request.app[CONTROLS], request.app[POOL], caller(request), control_id(request),
        decision, body.note, body.override_reason,
    )  # fmt: skip
    _wake(request)
    return _control(made)


@roles("commander")
@operation(
    "Approve a control (someone else asked for it): the order goes to the agency",
    body=ControlDecision,
    body_required=False,
    replies=_DECISION_REPLIES,
)
async def approve_control(request: web.Request) -> web.Response:
    return await _decide(request, "approved")


@roles("commander")
@operation(
    "Reject a control (final; nothing is sent)",
    body=ControlDecision,
    body_required=False,
    replies=_DECISION_REPLIES,
)
async def reject_control(request: web.Request) -> web.Response:
    return await _decide(request, "rejected")


@roles("officer", "commander")
@operation(
    "Renew a hold in effect (续行), on or before its last day, for at most its kind's term",
    body=RenewalBody,
    body_required=False,
    replies={
        200: (Control, "the renewal is on its way (see sending)"),
        400: "the body is not JSON",
        404: _NOT_FOUND,
        409: "not in effect, lapsed, or an order is still being sent",
        413: "the body is too large",
        422: "a term too long",
    },
)
async def renew_control(request: web.Request) -> web.Response:
    body = await read_model(request, RenewalBody, optional=True)
    made = await controls.renew(
        request.app[CONTROLS], request.app[POOL], caller(request), control_id(request),
        body.term_days,
    )  # fmt: skip
    _wake(request)
    return _control(made)


@roles("officer", "commander")
@operation(
    "Release a hold (解除), in effect or in line",
    replies={
        200: (Control, "the release is on its way (see sending)"),
        404: _NOT_FOUND,
        409: "not in effect or in line, or an order is still being sent",
    },
)
async def release_control(request: web.Request) -> web.Response:
    made = await controls.release(
        request.app[CONTROLS], request.app[POOL], caller(request), control_id(request)
    )
    _wake(request)
    return _control(made)


@roles("officer")
@operation(
    "Close the case for want of assets (终本) on a date: its debtors are re-queried on schedule",
    body=ClosureBody,
    body_required=False,
    replies={
        200: (CaseHistory, "the case, its schedule and history"),
        400: "the body is not JSON",
        404: "no such case for your team",
        413: "the body is too large",
        422: "a date in the future or past the schedule, or no debtor on record",
    },
)
async def close_case(request: web.Request) -> web.Response:
    body = await read_model(request, ClosureBody, optional=True)
    history = await closures.close_case(
        request.app[CONTROLS], request.app[POOL], caller(request), case_number(request),
        body.closed_on,
    )  # fmt: skip
    return json_response(CaseHistory.model_validate(history))


@roles("officer")
@operation(
    "Reopen a closed case: its re-query schedule stops",
    replies={
        200: (CaseHistory, "the case"),
        404: "no such case for your team",
        422: "the case is not closed",
    },
)
async def reopen_case(request: web.Request) -> web.Response:
    history = await closures.reopen_case(
        request.app[CONTROLS], request.app[POOL], caller(request), case_number(request)
    )
    return json_response(CaseHistory.model_validate(history))


@roles("officer", "commander")
@operation(
    "A case's history: closure, scheduled re-queries, new assets found, controls",
    replies={200: (CaseHistory, "the history"), 404: "no such case for your team"},
)
async def case_history(request: web.Request) -> web.Response:
    history = await closures.history(
        request.app[CONTROLS], request.app[POOL], caller(request), case_number(request)
    )
    return json_response(CaseHistory.model_validate(history))
