"""Bearer tokens and the caller they stand for.

Tokens are 256-bit random strings shown once; only their SHA-256 is stored. Which roles may
call an endpoint is declared on the handler (``gateway.http.roles``) and enforced by the
HTTP layer's auth middleware with :func:`authenticate`.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from gateway.core.errors import Conflict, Unauthorized
from gateway.core.roles import ROLES as ROLES
from gateway.core.roles import Role as Role
from gateway.store import admin as store_admin
from gateway.store import audit as store_audit
from gateway.store import db
from gateway.store.db import Connection, Pool

TOKEN_PREFIX = "gw_"  # noqa: S105 - a marker that makes leaked tokens easy to scan for


@dataclass(frozen=True, slots=True)
class Caller:
    officer_id: int
    officer: str
    role: Role
    team_id: int | None
    team: str | None


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def bearer_token(header: str | None) -> str:
    if not header:
        raise Unauthorized("an Authorization: Bearer <token> header is required")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    token = token.strip()
    # Tokens are printable ASCII; a header may carry any byte (decoded as a surrogate escape).
    if not (token.isascii() and token.isprintable()):
        raise Unauthorized("the token is unknown, expired or revoked")
    return token


async def authenticate(pool: Pool, header: str | None) -> Caller:
    """The caller an ``Authorization`` header stands for; ``Unauthorized`` otherwise."""
    token = bearer_token(header)
    async with db.connection(pool) as conn:
        row = await store_admin.caller_by_token(conn, hash_token(token))
    if row is None:
        raise Unauthorized("the token is unknown, expired or revoked")
    role = cast(Role, row["role"])
    return Caller(row["officer_id"], row["officer"], role, row["team_id"], row["team"])


async def create_token(
    conn: Connection,
    *,
    officer: str,
    role: Role,
    team: str | None,
    expires_at: datetime | None = None,
    issued_by: str = "cli",
) -> str:
    """Issue a new token for an officer, creating the officer (and team) if new. An existing
    officer's role and team are never changed here: that would let whoever runs the command
    move someone into another team's cases without a trace. Audited as ``token.issued``."""
    async with db.transaction(conn):
        team_id = await store_admin.upsert_team(conn, team) if team else None
        row = await store_admin.ensure_officer(conn, officer, role, team_id)
        if (row["role"], row["team_id"]) != (role, team_id):
            raise Conflict(
                f"officer {officer!r} exists with another role or team; an admin changes "
                "those, issuing a token does not"
            )
        token = new_token()
        token_id = await store_admin.insert_token(conn, hash_token(token), row["id"], expires_at)
        await store_audit.action(
            conn,
            "token.issued",
            officer_id=None,
            officer=issued_by,
            team=team,
            outcome="issued",
            detail={"officer": officer, "role": role, "token_id": token_id},
        )
    return token
