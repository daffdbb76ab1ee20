"""The control desk's HTTP side: routes, idempotency by key, the admin listing.

The rules of holding live in ``mocks.controls``; this module turns requests into calls on the
agency's ``HoldBook``, remembers each answer under its idempotency key and writes the state
after every change.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from aiohttp import web

from mocks.controls import HoldBook, Refused, bad_request, day_of
from mocks.http import CONTROL, BadRequest, json_response, read_json

BOOK = web.AppKey("hold_book", HoldBook)
Operation = Callable[[HoldBook, str, Mapping[str, Any]], dict[str, Any]]


def setup(app: web.Application) -> None:
    control = app[CONTROL]
    app[BOOK] = HoldBook(control.agency, control.control_state)
    app.router.add_post("/v1/controls", _hold)
    app.router.add_post("/v1/controls/{receipt}/renew", _renew)
    app.router.add_post("/v1/controls/{receipt}/release", _release)
    app.router.add_get("/v1/controls/{receipt}", _status)
    app.router.add_get("/admin/controls", _listing)


def forget(app: web.Application) -> None:
    """Drop every hold and remembered answer (``POST /admin/reset``, ``RunningMocks.reset``)."""
    if BOOK in app:
        app[BOOK].clear()


def holds(app: web.Application) -> list[dict[str, Any]]:
    """Every hold the desk issued, as stored, with its place in line; [] without a desk."""
    return app[BOOK].listing() if BOOK in app else []


def _refusal(refused: Refused) -> web.Response:
    return json_response(refused.body(), refused.status)


async def _hold(request: web.Request) -> web.Response:
    return await _keyed(request, "hold", lambda book, _receipt, data: book.hold(data))


async def _renew(request: web.Request) -> web.Response:
    return await _keyed(request, "renew", lambda book, receipt, data: book.renew(receipt, data))


async def _release(request: web.Request) -> web.Response:
    return await _keyed(request, "release", lambda book, receipt, data: book.release(receipt, data))


async def _keyed(request: web.Request, name: str, operation: Operation) -> web.Response:
    """Run ``operation`` once per idempotency key; the same key and body again get the
    remembered answer, the same key with another body a 409."""
    stats = request.app[CONTROL].stats
    stats.control_requests += 1
    book = request.app[BOOK]
    try:
        data = await read_json(request)
    except BadRequest as exc:
        return _refusal(bad_request(exc.message))
    key = data.get("idempotency_key")
    if not isinstance(key, str) or not _is_uuid(key):
        return _refusal(bad_request("idempotency_key 须为 UUID"))
    receipt = request.match_info.get("receipt", "")
    asked = json.dumps([name, receipt, data], ensure_ascii=False, sort_keys=True)
    fingerprint = hashlib.sha256(asked.encode()).hexdigest()
    remembered = book.answers.get(key)
    if remembered is not None:
        if remembered["fingerprint"] != fingerprint:
            return _refusal(Refused("key_reused", "幂等键已用于另一请求", 409))
        return json_response(remembered["body"], remembered["status"])
    before = len(book.holds)
    try:
        status, body = 200, operation(book, receipt, data)
    except Refused as refused:
        status, body = refused.status, refused.body()
    stats.holds_created += len(book.holds) - before
    book.answers[key] = {"fingerprint": fingerprint, "status": status, "body": body}
    book.save()
    return json_response(body, status)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def _status(request: web.Request) -> web.Response:
    request.app[CONTROL].stats.control_requests += 1
    on = request.query.get("on")
    try:
        day = date.today() if on is None else day_of({"on": on}, "on")
        return json_response(request.app[BOOK].view(request.match_info["receipt"], day))
    except Refused as refused:
        return _refusal(refused)


async def _listing(request: web.Request) -> web.Response:
    return json_response({"agency": request.app[CONTROL].agency, "holds": holds(request.app)})
