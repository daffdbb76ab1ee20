"""Signing in and out of the pages, and the home page that sends each role to its page.

The sign-in form is protected against login CSRF by a double-submit token: a random value in
a SameSite=Strict cookie that the form must repeat.
"""

from __future__ import annotations

import re
import secrets

from aiohttp import web

from gateway.accountability import sessions
from gateway.accountability.auth import Role
from gateway.http.keys import POOL, SETTINGS
from gateway.http.web.pages import (
    CSRF_FIELD,
    SESSION_COOKIE,
    clear_session_cookie,
    form_fields,
    page,
    public_page,
    render,
    secure,
    see_other,
    set_session_cookie,
)

LOGIN_CSRF_COOKIE = "gw_login_csrf"
#: where each role starts
HOME: dict[Role, str] = {
    "commander": "/dashboard",
    "officer": "/batches",
    "auditor": "/openapi.json",
    "admin": "/openapi.json",
}


#: a path of this site and its query, in plain characters: no scheme, no host, no "//" or
#: "/\\" (browsers read both as another host), no control characters (a header must not
#: break), nothing percent-decoded into any of those
_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9/_.~=&?%-]*")


def _next(request: web.Request, fallback: str) -> str:
    """Only a path of this site: never an address an attacker chose."""
    target = request.query.get("next", "")
    if _LOCAL_PATH.fullmatch(target) and "%" not in target.partition("?")[0]:
        return target
    return fallback


@public_page
async def sign_in_form(request: web.Request) -> web.StreamResponse:
    return _form(request, failed=False)


def _form(request: web.Request, *, failed: bool) -> web.Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        {"login_csrf": token, "failed": failed, "next": request.query.get("next", "")},
        status=401 if failed else 200,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=request.app[SETTINGS].web_secure_cookies,  # as the session cookie
        path="/",
    )
    return response


@public_page
async def sign_in(request: web.Request) -> web.StreamResponse:
    form = await form_fields(request)
    name, token, given = form.get("officer"), form.get("token"), form.get(CSRF_FIELD)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not (isinstance(given, str) and expected and sessions.same_secret(given, expected)):
        return _form(request, failed=True)
    if not (isinstance(name, str) and isinstance(token, str)) or len(name) > 100:
        return _form(request, failed=True)
    hours = request.app[SETTINGS].web_session_hours
    try:
        session_id, session = await sessions.sign_in(
            request.app[POOL], name.strip(), token.strip(), hours * 3600
        )
    except sessions.SignInRefused:
        return _form(request, failed=True)
    response = see_other(_next(request, HOME[session.caller.role]))
    set_session_cookie(request, response, session_id)
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/")
    secure(request, response)
    return response


@page("officer", "commander", "auditor", "admin")
async def sign_out(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    await sessions.sign_out(request.app[POOL], session, request.cookies.get(SESSION_COOKIE, ""))
    response = see_other("/login")
    clear_session_cookie(response)
    return response


@public_page
async def home(request: web.Request) -> web.StreamResponse:
    session = await sessions.find(request.app[POOL], request.cookies.get(SESSION_COOKIE, ""))
    if session is None:
        raise web.HTTPSeeOther("/login")
    raise web.HTTPSeeOther(HOME[session.caller.role])
