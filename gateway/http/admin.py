"""Administration API (technology office): teams, officers, tokens, filed cases.

Every handler states its roles with ``@roles``; the OpenAPI document publishes them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from gateway.accountability import admin, cases
from gateway.accountability.admin import Actor
from gateway.core.errors import NotFound
from gateway.http.admin_openapi import OPERATIONS, SCHEMAS
from gateway.http.keys import POOL
from gateway.http.middleware import caller
from gateway.http.openapi import register
from gateway.http.params import (
    decode_cursor,
    encode_cursor,
    limit,
    page,
    problem,
    query_text,
    read_body,
    read_object,
)
from gateway.http.roles import roles
from gateway.store import db

MAX_TOKEN_DAYS = 3650
#: the token is in the body: no proxy or browser may keep a copy
_NO_STORE = {"Cache-Control": "no-store"}


def _actor(request: web.Request) -> Actor:
    return Actor.of(caller(request))


def _name(request: web.Request) -> str:
    name = request.match_info["name"]
    if len(name) > admin.MAX_NAME_LENGTH or not name.isprintable():
        raise NotFound("no such officer")  # could not have been created
    return name


@roles("admin")
async def create_team(request: web.Request) -> web.Response:
    body = await read_object(request, frozenset({"name"}))
    name = admin.check_name(body.get("name"), "name")
    async with db.connection(request.app[POOL]) as conn:
        team = await admin.create_team(conn, name, _actor(request))
    return web.json_response(team, status=201)


@roles("admin", "commander")
async def list_teams(request: web.Request) -> web.Response:
    async with db.connection(request.app[POOL]) as conn:
        return web.json_response({"items": await admin.list_teams(conn)})


@roles("admin")
async def create_officer(request: web.Request) -> web.Response:
    body = await read_object(request, frozenset({"name", "role", "team"}))
    name = admin.check_name(body.get("name"), "name")
    team = admin.check_name(body["team"], "team") if body.get("team") is not None else None
    async with db.connection(request.app[POOL]) as conn:
        officer = await admin.create_officer(conn, name, body.get("role"), team, _actor(request))
    return web.json_response(officer, status=201)


@roles("admin")
async def list_officers(request: web.Request) -> web.Response:
    cursor = request.query.get("cursor")
    after = decode_cursor(cursor) if cursor else None
    async with db.connection(request.app[POOL]) as conn:
        items, last = await admin.list_officers(conn, after, limit(request))
    return page(items, encode_cursor(last) if last else None)


@roles("admin")
async def issue_token(request: web.Request) -> web.Response:
    body = await read_object(request, frozenset({"expires_in_days"}), optional=True)
    days = body.get("expires_in_days")
    if days is not None and (
        isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_TOKEN_DAYS
    ):
        raise problem("expires_in_days", f"must be a whole number from 1 to {MAX_TOKEN_DAYS}")
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    async with db.connection(request.app[POOL]) as conn:
        token = await admin.issue_token(conn, _name(request), expires, _actor(request))
    return web.json_response(token, status=201, headers=_NO_STORE)


@roles("admin")
async def list_officer_tokens(request: web.Request) -> web.Response:
    async with db.connection(request.app[POOL]) as conn:
        return web.json_response({"items": await admin.list_tokens(conn, _name(request))})


@roles("admin")
async def revoke_officer_tokens(request: web.Request) -> web.Response:
    async with db.connection(request.app[POOL]) as conn:
        result = await admin.revoke_officer_tokens(conn, _name(request), _actor(request))
    return web.json_response(result)


@roles("admin")
async def revoke_token(request: web.Request) -> web.Response:
    raw = request.match_info["token_id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise NotFound("no such token")
    async with db.connection(request.app[POOL]) as conn:
        result = await admin.revoke_token(conn, _actor(request), token_id=int(raw))
    return web.json_response(result)


@roles("admin")
async def register_case(request: web.Request) -> web.Response:
    body = await read_object(request, frozenset({"case_number", "team"}))
    case_number = cases.canonical_case_number(body.get("case_number"))
    team = admin.check_name(body.get("team"), "team")
    async with db.connection(request.app[POOL]) as conn:
        counts = await cases.register(conn, [cases.CaseEntry(case_number, team)], _actor(request))
    status = 201 if counts["registered"] else 200
    return web.json_response({"case_number": case_number, "team": team, **counts}, status=status)


@roles("admin")
async def import_cases(request: web.Request) -> web.Response:
    entries = cases.parse_csv(await read_body(request))
    async with db.connection(request.app[POOL]) as conn:
        counts = await cases.register(conn, entries, _actor(request))
    return web.json_response({"rows": len(entries), **counts})


@roles("admin", "commander")
async def list_cases(request: web.Request) -> web.Response:
    cursor = request.query.get("cursor")
    after = decode_cursor(cursor) if cursor else None
    async with db.connection(request.app[POOL]) as conn:
        items, last = await cases.list_cases(
            conn, query_text(request, "team"), after, limit(request)
        )
    return page(items, encode_cursor(last) if last else None)


register(OPERATIONS, SCHEMAS)
