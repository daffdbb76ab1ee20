"""The pages' control actions: an officer asks for a hold on an asset from a batch's page,
sees the team's holds and reminders (``/controls``), renews or releases a hold, closes a case
for want of assets (终本) and reads its history (``/cases/{case}``); a commander approves or
rejects from the wall. Forms post with the session's CSRF token and are answered with a 303
back to the page, or a page naming what was wrong; the rules, audit and history are the
API's own (``gateway.accountability.controls`` and ``closures``)."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from datetime import timedelta
from typing import Any, cast
from urllib.parse import quote

from aiohttp import web
from pydantic import ValidationError

from gateway.accountability import closures, control_records, control_views, controls, sessions
from gateway.accountability.cases import canonical_case_number
from gateway.core.errors import RequestError, ValidationFailed
from gateway.http.controls import case_number, control_id
from gateway.http.inputs import batch_id, problems_of
from gateway.http.keys import CONTROL_SENDER, CONTROLS, POOL
from gateway.http.models.controls import ClosureBody, ControlDecision, ControlRequestBody
from gateway.http.web.i18n import words
from gateway.http.web.pages import form_fields, language, page, render, see_other

#: the team's controls listed on its page (newest first)
LISTED = 100


async def _answer(request: web.Request, work: Awaitable[Any], back: str) -> web.StreamResponse:
    """Do it and go back to ``back``, or show what was wrong (nothing was changed)."""
    try:
        await work
    except RequestError as exc:
        problems = exc.details.get("problems") if isinstance(exc, ValidationFailed) else None
        context = {"message": exc.message, "problems": problems, "back": back}
        return render(request, "error.html", context, status=exc.status)
    if CONTROL_SENDER in request.app:
        request.app[CONTROL_SENDER].wake()
    return see_other(back)


def _filled(fields: Mapping[str, str]) -> dict[str, str]:
    """A form's fields, those left empty dropped (an empty amount is no amount)."""
    return {k: v for k, v in fields.items() if v.strip() and k != "csrf_token"}


def _checked(model: type[Any], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(problems_of(exc)) from exc


@page("officer")
async def ask_control(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    target = batch_id(request)
    back = f"/batches/{target}#assets"

    async def work() -> None:
        fields = {**_filled(await form_fields(request)), "batch_id": str(target)}
        body = _checked(ControlRequestBody, fields)
        wanted = controls.ControlRequest(
            body.batch_id, body.row, body.agency, body.asset, body.action, body.reason,
            body.term_days, body.amount,
        )  # fmt: skip
        await controls.request_control(
            request.app[CONTROLS], request.app[POOL], session.caller, wanted
        )

    return await _answer(request, work(), back)


@page("officer")
async def controls_page(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    policy, pool, caller = request.app[CONTROLS], request.app[POOL], session.caller
    items, _ = await control_records.list_controls(
        policy, pool, caller, case_number=None, status=None, expiring_within=None, after=None,
        limit=LISTED,
    )  # fmt: skip
    alerts = await control_views.team_alerts(pool, caller)
    soon_by = policy.today() + timedelta(days=policy.settings.expiry_window_days)
    context = {"controls": items, "alerts": alerts, "soon_by": soon_by.isoformat()}
    return render(request, "controls.html", context)


@page("officer")
async def renew(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    work = controls.renew(
        request.app[CONTROLS], request.app[POOL], session.caller, control_id(request), None
    )
    return await _answer(request, work, "/controls")


@page("officer")
async def release(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    work = controls.release(
        request.app[CONTROLS], request.app[POOL], session.caller, control_id(request)
    )
    return await _answer(request, work, "/controls")


@page("officer", "commander")
async def case_page(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    history = await closures.history(
        request.app[CONTROLS], request.app[POOL], session.caller, case_number(request)
    )
    t = words(language(request))
    for event in history["events"]:
        event["text"] = described(event["detail"], t)
    return render(request, "case.html", {"case": history})


#: how a value of an event's detail is worded, by its key
_VALUE_WORDS = {"action": "action_", "status": "control_", "operation": "operation_"}


def described(detail: Mapping[str, Any], t: Mapping[str, str]) -> str:
    """An event's detail in the page's language: "措施: 查封，期限（天）: 1095"."""
    parts: list[str] = []
    for key, value in detail.items():
        if value is None:
            continue
        if isinstance(value, bool):
            shown = t["yes"] if value else t["no"]
        elif isinstance(value, Mapping):
            counts = cast(Mapping[str, Any], value)
            shown = " ".join(f"{t.get(k, k)} {n}" for k, n in counts.items())
        else:
            shown = t.get(_VALUE_WORDS.get(key, "") + str(value), str(value))
        parts.append(f"{t.get(key, key)}: {shown}")
    return "，".join(parts)


@page("officer")
async def close_case(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    fields = _filled(await form_fields(request))
    number = fields.pop("case_number", "")
    try:
        case = canonical_case_number(number)
    except ValidationFailed as exc:
        problems = exc.details.get("problems")
        context = {"message": exc.message, "problems": problems, "back": "/controls"}
        return render(request, "error.html", context, status=exc.status)

    async def work() -> None:
        body = _checked(ClosureBody, fields)
        await closures.close_case(
            request.app[CONTROLS], request.app[POOL], session.caller, case, body.closed_on
        )

    return await _answer(request, work(), "/cases/" + quote(case, safe=""))


@page("officer")
async def reopen_case(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    case = case_number(request)
    work = closures.reopen_case(request.app[CONTROLS], request.app[POOL], session.caller, case)
    return await _answer(request, work, "/cases/" + quote(case, safe=""))


async def _decide(
    request: web.Request, session: sessions.Session, decision: controls.Decision
) -> web.StreamResponse:
    fields = _filled(await form_fields(request))
    target = control_id(request)

    async def work() -> None:
        body = _checked(
            ControlDecision, {k: fields[k] for k in ("note", "override_reason") if k in fields}
        )
        await controls.decide(
            request.app[CONTROLS], request.app[POOL], session.caller, target, decision,
            body.note, body.override_reason,
        )  # fmt: skip

    return await _answer(request, work(), "/dashboard")


@page("commander")
async def approve(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    return await _decide(request, session, "approved")


@page("commander")
async def reject(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    return await _decide(request, session, "rejected")
