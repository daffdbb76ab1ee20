"""What every page shares: who is signed in (the session cookie), the CSRF check on every
form, the language, rendering a template, and the headers that keep a page to itself.

A page handler is declared with ``@page("commander")``: the API's token middleware lets it
through (pages authenticate by session, not by bearer token); the decorator finds the
session, refuses a wrong role with a 403 page, and sends anyone not signed in to the
sign-in page. Forms are POSTs carrying the session's CSRF token (checked here); the cookie is
HttpOnly and SameSite=Strict on top of that.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from gateway.accountability import sessions
from gateway.accountability.auth import Role
from gateway.core.errors import BadRequest
from gateway.http.keys import POOL, SETTINGS
from gateway.http.middleware import CALLER
from gateway.http.roles import Handler, roles
from gateway.http.web import i18n

SESSION_COOKIE = "gw_session"
LANGUAGE_COOKIE = "gw_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION = web.RequestKey("web_session", sessions.Session)
TEMPLATES = Path(__file__).parent / "templates"
_PAGE_ATTRIBUTE = "__page__"
#: pages load nothing from anywhere but the gateway
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

PageHandler = Callable[[web.Request, sessions.Session], Awaitable[web.StreamResponse]]


def setup(app: web.Application) -> None:
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        filters={"local": local_time},
    )


def local_time(value: str | None, zone: str, length: int = 16) -> str:
    """An ISO 8601 instant (as the API gives it, in UTC) in the courts' time zone
    (GATEWAY_TIMEZONE), as "2026-12-03 09:30" (``length`` 10: the date alone)."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:  # never so from the API; read as UTC rather than as local
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(ZoneInfo(zone))
    return moment.isoformat(sep=" ")[:length]


def is_page(handler: Any) -> bool:
    """A web page (session-authenticated), not an operation of the API."""
    return bool(getattr(handler, _PAGE_ATTRIBUTE, False))


def language(request: web.Request) -> str:
    chosen = request.query.get("lang") or request.cookies.get(LANGUAGE_COOKIE, i18n.DEFAULT)
    return chosen if chosen in i18n.LANGUAGES else i18n.DEFAULT


def _context(request: web.Request) -> dict[str, Any]:
    """What every template sees, taken when it is rendered (after the session was found)."""
    lang = language(request)
    session = request.get(SESSION)
    return {
        "t": i18n.words(lang),
        "lang": lang,
        "zone": request.app[SETTINGS].timezone,
        "other_lang": "en" if lang == "zh" else "zh",
        "caller": session.caller if session else None,
        "csrf_token": session.csrf_token if session else "",
        "path": request.path,
    }


def render(
    request: web.Request, template: str, context: Mapping[str, Any], status: int = 200
) -> web.Response:
    values = {**_context(request), **context}
    response = aiohttp_jinja2.render_template(template, request, values, status=status)
    secure(request, response)
    return response


def secure(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)
    if "lang" in request.query and request.query["lang"] in i18n.LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE, request.query["lang"], max_age=365 * 86400, samesite="Strict"
        )


def set_session_cookie(request: web.Request, response: web.StreamResponse, value: str) -> None:
    settings = request.app[SETTINGS]
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(settings.web_session_hours * 3600),
        httponly=True,
        samesite="Strict",
        secure=settings.web_secure_cookies,
        path="/",
    )


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/")


def see_other(location: str) -> web.Response:
    """A 303 to ``location`` that is a response, not an exception: for when cookies go
    with it (aiohttp deprecates returning its redirect exceptions)."""
    return web.Response(status=303, headers={"Location": location})


def sign_in_redirect(request: web.Request) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='')}")


def page(*allowed: Role, stream: bool = False) -> Callable[[PageHandler], Handler]:
    """Declare a page and who may open it. ``stream``: an event stream or data the page's
    script fetches: not signed in is a 401, not a redirect."""

    def wrap(handler: PageHandler) -> Handler:
        @roles("public")  # the API's token check does not apply: pages use the session
        @functools.wraps(handler)
        async def run(request: web.Request) -> web.StreamResponse:
            session = await sessions.find(
                request.app[POOL], request.cookies.get(SESSION_COOKIE, "")
            )
            if session is None:
                if stream:
                    raise web.HTTPUnauthorized(text="sign in first")
                raise sign_in_redirect(request)
            request[SESSION] = session
            request[CALLER] = session.caller
            if session.caller.role not in allowed:
                return render(request, "error.html", {"message": "forbidden"}, status=403)
            if request.method == "POST":
                await _check_csrf(request, session)
            return await handler(request, session)

        setattr(run, _PAGE_ATTRIBUTE, True)
        return run

    return wrap


def public_page(handler: Handler) -> Handler:
    """A page anyone may open (the sign-in page)."""
    marked = roles("public")(handler)
    setattr(marked, _PAGE_ATTRIBUTE, True)
    return marked


async def form_fields(request: web.Request) -> Mapping[str, str]:
    """A form's text fields; a body that cannot be read as a form is a 400."""
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return {}
    try:
        form = await request.post()
    except web.HTTPRequestEntityTooLarge:
        raise
    # A part may name an unknown charset (LookupError) or transfer encoding (RuntimeError), or
    # carry headers that are not headers (HttpProcessingError).
    except (ValueError, LookupError, RuntimeError, HttpProcessingError) as exc:
        raise BadRequest("the form cannot be read") from exc
    return {key: value for key, value in form.items() if isinstance(value, str)}


async def _check_csrf(request: web.Request, session: sessions.Session) -> None:
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        given = (await form_fields(request)).get(CSRF_FIELD)
    if not session.csrf_ok(given):
        raise web.HTTPForbidden(text="the form is out of date; reload the page")
