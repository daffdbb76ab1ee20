"""Teams, officers and tokens (the technology office's work), for the API and the CLI alike.

Every change is written to the audit log in the same transaction, with who made it: an admin
through the API, or ``cli:<os user>`` for a command run on the server. A token is shown once,
when issued; afterwards only its id and dates exist (and the SHA-256 the middleware checks).
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.accountability.auth import ROLES, Caller, hash_token, new_token
from gateway.core.errors import Conflict, NotFound, ValidationFailed
from gateway.store import admin as store
from gateway.store import audit as store_audit
from gateway.store import db
from gateway.store.db import Connection, Record

MAX_NAME_LENGTH = 100


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change, for the audit log."""

    officer_id: int | None
    name: str
    team: str | None = None

    @classmethod
    def of(cls, caller: Caller) -> Actor:
        return cls(caller.officer_id, caller.officer, caller.team)

    @classmethod
    def cli(cls) -> Actor:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no login name (e.g. a container's numeric user)
            user = "unknown"
        return cls(None, f"cli:{user}")


async def audit(
    conn: Connection,
    actor: Actor,
    action: str,
    outcome: str,
    detail: dict[str, Any],
    *,
    case_number: str | None = None,
) -> None:
    await store_audit.action(
        conn,
        action,
        officer_id=actor.officer_id,
        officer=actor.name,
        team=actor.team,
        case_number=case_number,
        outcome=outcome,
        detail=detail,
    )


def check_name(value: Any, field: str) -> str:
    """Team and officer names: short, printable, and usable in a URL path segment."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed([{"row": None, "field": field, "problem": "is required"}])
    value = value.strip()
    problem = None
    if len(value) > MAX_NAME_LENGTH:
        problem = f"must be at most {MAX_NAME_LENGTH} characters"
    elif not value.isprintable() or "/" in value:
        problem = "must be printable and must not contain '/'"
    if problem:
        raise ValidationFailed([{"row": None, "field": field, "problem": problem}])
    return value


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def create_team(conn: Connection, name: str, actor: Actor) -> dict[str, Any]:
    async with db.transaction(conn):
        row = await store.insert_team(conn, name)
        if row is None:
            raise Conflict("a team of that name exists", field="name")
        await audit(conn, actor, "team.created", "created", {"team": name})
    return {"name": row["name"], "created_at": _time(row["created_at"])}


async def list_teams(conn: Connection) -> list[dict[str, Any]]:
    rows = await store.list_teams(conn)
    return [
        {
            "name": r["name"],
            "created_at": _time(r["created_at"]),
            "officers": r["officers"],
            "cases": r["cases"],
        }
        for r in rows
    ]


async def team_id(conn: Connection, name: str, field: str = "team") -> int:
    teams = await store.teams_by_name(conn, [name])
    if name not in teams:
        problem = "no such team (an admin creates teams first)"
        raise ValidationFailed([{"row": None, "field": field, "problem": problem}])
    return teams[name]


def officer_json(row: Record) -> dict[str, Any]:
    return {
        "name": row["name"],
        "role": row["role"],
        "team": row["team"],
        "created_at": _time(row["created_at"]),
        "active_tokens": row["active_tokens"],
    }


async def create_officer(
    conn: Connection, name: str, role: Any, team: str | None, actor: Actor
) -> dict[str, Any]:
    if role not in ROLES:
        problem = f"must be one of {', '.join(ROLES)}"
        raise ValidationFailed([{"row": None, "field": "role", "problem": problem}])
    if role == "officer" and team is None:
        problem = "is required for the officer role"
        raise ValidationFailed([{"row": None, "field": "team", "problem": problem}])
    async with db.transaction(conn):
        team_ref = await team_id(conn, team) if team is not None else None
        if not await store.insert_officer(conn, name, role, team_ref):
            raise Conflict("an officer of that name exists", field="name")
        detail = {"officer": name, "role": role, "team": team}
        await audit(conn, actor, "officer.created", "created", detail)
        row = await get_officer(conn, name)
    return officer_json(row)


async def get_officer(conn: Connection, name: str) -> Record:
    row = await store.get_officer(conn, name)
    if row is None:
        raise NotFound("no such officer")
    return row


async def list_officers(
    conn: Connection, after: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    rows = await store.list_officers(conn, after, limit + 1)
    items = [officer_json(r) for r in rows[:limit]]
    return items, (rows[limit - 1]["name"] if len(rows) > limit else None)


async def issue_token(
    conn: Connection, officer: str, expires_at: datetime | None, actor: Actor
) -> dict[str, Any]:
    """A new token for an existing officer; the only time the token itself is seen."""
    async with db.transaction(conn):
        row = await get_officer(conn, officer)
        token = new_token()
        token_id = await store.insert_token(conn, hash_token(token), row["id"], expires_at)
        detail = {"officer": officer, "token_id": token_id, "expires_at": _time(expires_at)}
        await audit(conn, actor, "token.issued", "issued", detail)
    return {
        "id": token_id,
        "officer": officer,
        "role": row["role"],
        "team": row["team"],
        "expires_at": _time(expires_at),
        "token": token,
    }


async def list_tokens(conn: Connection, officer: str | None) -> list[dict[str, Any]]:
    if officer is not None:
        await get_officer(conn, officer)
    rows = await store.list_tokens(conn, officer)
    return [
        {
            "id": r["id"],
            "officer": r["officer"],
            "role": r["role"],
            "created_at": _time(r["created_at"]),
            "expires_at": _time(r["expires_at"]),
            "revoked_at": _time(r["revoked_at"]),
        }
        for r in rows
    ]


async def revoke_token(
    conn: Connection, actor: Actor, *, token_id: int | None = None, token: str | None = None
) -> dict[str, Any]:
    """Revoke one token, by id or by its value. Revoking a revoked token changes nothing."""
    async with db.transaction(conn):
        if token is not None:
            row = await store.token_by_hash(conn, hash_token(token))
        elif token_id is not None:
            row = await store.token_by_id(conn, token_id)
        else:
            row = None
        if row is None:
            raise NotFound("no such token")
        revoked = await store.revoke_tokens(conn, [row["id"]])
        if revoked:
            detail = {"officer": row["officer"], "token_ids": [row["id"]]}
            await audit(conn, actor, "token.revoked", "revoked", detail)
    return {"id": row["id"], "officer": row["officer"], "revoked": len(revoked)}


async def revoke_officer_tokens(conn: Connection, officer: str, actor: Actor) -> dict[str, Any]:
    """Revoke every live token of an officer (someone leaves, or a device is lost)."""
    async with db.transaction(conn):
        row = await get_officer(conn, officer)
        revoked = await store.revoke_officer_tokens(conn, row["id"])
        if revoked:
            detail = {"officer": officer, "token_ids": revoked}
            await audit(conn, actor, "token.revoked", "revoked", detail)
    return {"officer": officer, "revoked": len(revoked), "token_ids": revoked}
