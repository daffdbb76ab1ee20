"""Administration API (technology office): teams, officers, tokens, filed cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from gateway.accountability import admin, cases
from gateway.accountability.admin import Actor
from gateway.core.errors import NotFound
from gateway.http import cursors
from gateway.http.inputs import json_response, path_id, query_model, read_body, read_model
from gateway.http.keys import POOL
from gateway.http.middleware import caller
from gateway.http.models.admin import (
    CaseImport,
    CasePage,
    CaseRegistered,
    CaseRegistration,
    IssuedToken,
    Officer,
    OfficerIn,
    OfficerPage,
    Revocation,
    Team,
    TeamIn,
    TeamList,
    TokenList,
    TokenRequest,
)
from gateway.http.models.common import PageQuery
from gateway.http.models.fields import QueryText
from gateway.http.openapi import Reply, operation
from gateway.http.roles import roles
from gateway.store import db

#: the token is in the body: no proxy or browser may keep a copy
_NO_STORE = {"Cache-Control": "no-store"}
_NAME_UNKNOWN = "no such officer"


class CaseQuery(PageQuery):
    model_config = ConfigDict(extra="ignore")

    team: QueryText | None = None


def _actor(request: web.Request) -> Actor:
    return Actor.of(caller(request))


def _name(request: web.Request) -> str:
    name = request.match_info["name"]
    if len(name) > admin.MAX_NAME_LENGTH or not name.isprintable():
        raise NotFound(_NAME_UNKNOWN)  # could not have been created
    return name


def _page(model: type[BaseModel], items: list[dict[str, object]], last: str | None) -> web.Response:
    next_cursor = cursors.encode(last) if last else None
    return json_response(model.model_validate({"items": items, "next_cursor": next_cursor}))


@roles("admin")
@operation(
    "Create a team",
    body=TeamIn,
    replies={
        201: (Team, "created"),
        400: "the body is not JSON",
        409: "a team of that name exists",
        413: "the body is too large",
        422: "invalid name",
    },
)
async def create_team(request: web.Request) -> web.Response:
    body = await read_model(request, TeamIn)
    async with db.connection(request.app[POOL]) as conn:
        team = await admin.create_team(conn, body.name, _actor(request))
    return json_response(Team.model_validate(team), status=201)


@roles("admin", "commander")
@operation("Teams, with their officers and cases counted", replies={200: (TeamList, "all")})
async def list_teams(request: web.Request) -> web.Response:
    async with db.connection(request.app[POOL]) as conn:
        teams = await admin.list_teams(conn)
    return json_response(TeamList.model_validate({"items": teams}))


@roles("admin")
@operation(
    "Create an officer (a login) with a role, and a team for officers",
    body=OfficerIn,
    replies={
        201: (Officer, "created"),
        400: "the body is not JSON",
        409: "an officer of that name exists",
        413: "the body is too large",
        422: "invalid field, or no such team",
    },
)
async def create_officer(request: web.Request) -> web.Response:
    body = await read_model(request, OfficerIn)
    async with db.connection(request.app[POOL]) as conn:
        officer = await admin.create_officer(conn, body.name, body.role, body.team, _actor(request))
    return json_response(Officer.model_validate(officer), status=201)


@roles("admin")
@operation(
    "Officers by name",
    query=PageQuery,
    replies={200: (OfficerPage, "a page"), 400: "bad cursor", 422: "bad limit"},
)
async def list_officers(request: web.Request) -> web.Response:
    query = query_model(request, PageQuery)
    after = cursors.parse(query.cursor, cursors.text_of)
    async with db.connection(request.app[POOL]) as conn:
        items, last = await admin.list_officers(conn, after, query.limit or 100)
    return _page(OfficerPage, items, last)


@roles("admin")
@operation(
    "Issue a token for an officer (shown once, in this response)",
    body=TokenRequest,
    body_required=False,
    replies={
        201: (IssuedToken, "issued"),
        400: "the body is not JSON",
        404: "no such officer",
        413: "the body is too large",
        422: "invalid expires_in_days",
    },
)
async def issue_token(request: web.Request) -> web.Response:
    body = await read_model(request, TokenRequest, optional=True)
    days = body.expires_in_days
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    async with db.connection(request.app[POOL]) as conn:
        token = await admin.issue_token(conn, _name(request), expires, _actor(request))
    return json_response(IssuedToken.model_validate(token), status=201, headers=_NO_STORE)


@roles("admin")
@operation(
    "An officer's tokens (ids and dates; never the token)",
    replies={200: (TokenList, "the tokens"), 404: "no such officer"},
)
async def list_officer_tokens(request: web.Request) -> web.Response:
    async with db.connection(request.app[POOL]) as conn:
        tokens = await admin.list_tokens(conn, _name(request))
    return json_response(TokenList.model_validate({"items": tokens}))


@roles("admin")
@operation(
    "Revoke every live token of an officer",
    replies={200: (Revocation, "revoked"), 404: "no such officer"},
)
async def revoke_officer_tokens(request: web.Request) -> web.Response:
    async with db.connection(request.app[POOL]) as conn:
        result = await admin.revoke_officer_tokens(conn, _name(request), _actor(request))
    return json_response(Revocation.model_validate(result))


@roles("admin")
@operation(
    "Revoke one token by id (revoking twice changes nothing)",
    replies={200: (Revocation, "revoked"), 404: "no such token"},
)
async def revoke_token(request: web.Request) -> web.Response:
    token_id = path_id(request, "token_id", "no such token")
    async with db.connection(request.app[POOL]) as conn:
        result = await admin.revoke_token(conn, _actor(request), token_id=token_id)
    return json_response(Revocation.model_validate(result))


@roles("admin")
@operation(
    "Register a filed case for the team handling it (again: transfer it)",
    body=CaseRegistration,
    replies={
        200: (CaseRegistered, "unchanged or transferred"),
        201: (CaseRegistered, "registered"),
        400: "the body is not JSON",
        413: "the body is too large",
        422: "malformed case number, or no such team",
    },
)
async def register_case(request: web.Request) -> web.Response:
    body = await read_model(request, CaseRegistration)
    entry = cases.CaseEntry(body.case_number, body.team, amount=body.amount_to_enforce)
    async with db.connection(request.app[POOL]) as conn:
        counts = await cases.register(conn, [entry], _actor(request))
    status = 201 if counts["registered"] else 200
    registered = CaseRegistered.model_validate(
        {"case_number": body.case_number, "team": body.team, **counts}
    )
    return json_response(registered, status=status)


@roles("admin")
@operation(
    "Register filed cases in bulk from CSV (case_number,team); all or nothing",
    raw_body={"text/csv": {"type": "string"}},
    replies={
        200: (CaseImport, "imported"),
        413: "the file is too large",
        422: "row problems (row, line, field, problem); nothing stored",
    },
)
async def import_cases(request: web.Request) -> web.Response:
    entries = cases.parse_csv(await read_body(request))
    async with db.connection(request.app[POOL]) as conn:
        counts = await cases.register(conn, entries, _actor(request))
    return json_response(CaseImport.model_validate({"rows": len(entries), **counts}))


@roles("admin", "commander")
@operation(
    "Filed cases and their teams",
    query=CaseQuery,
    replies={
        200: Reply("a page", CasePage),
        400: "bad cursor",
        422: "bad filter or limit",
    },
)
async def list_cases(request: web.Request) -> web.Response:
    query = query_model(request, CaseQuery)
    after = cursors.parse(query.cursor, cursors.text_of)
    async with db.connection(request.app[POOL]) as conn:
        items, last = await cases.list_cases(conn, query.team, after, query.limit or 100)
    return _page(CasePage, items, last)
