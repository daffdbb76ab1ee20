"""Bearer tokens and the caller they stand for.

Tokens are 256-bit random strings shown once; only their SHA-256 is stored. Which roles may
call an endpoint is declared on the handler with ``@roles(...)`` and enforced by the auth
middleware, so the rule sits next to the code it guards and the OpenAPI document reads it
from the same place.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

from gateway.errors import Conflict, Unauthorized
from gateway.queries import sql

Role = Literal["officer", "commander", "auditor", "admin"]
ROLES: tuple[Role, ...] = ("officer", "commander", "auditor", "admin")
TOKEN_PREFIX = "gw_"  # noqa: S105 - a marker that makes leaked tokens easy to scan for

Handler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Caller:
    officer_id: int
    officer: str
    role: Role
    team_id: int | None
    team: str | None


def roles(*allowed: Role | Literal["public"]) -> Callable[[Handler], Handler]:
    """Declare who may call a handler; ``"public"`` needs no token."""

    def mark(handler: Handler) -> Handler:
        handler.__roles__ = tuple(allowed)  # type: ignore[attr-defined]
        return handler

    return mark


def allowed_roles(handler: Any) -> tuple[str, ...] | None:
    return getattr(handler, "__roles__", None)


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


async def authenticate(pool: asyncpg.Pool, header: str | None) -> Caller:
    token = bearer_token(header)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(sql("find_token"), hash_token(token))
    if row is None:
        raise Unauthorized("the token is unknown, expired or revoked")
    return Caller(row["officer_id"], row["officer"], row["role"], row["team_id"], row["team"])


async def create_token(
    conn: asyncpg.Connection,
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
    async with conn.transaction():
        team_id = await conn.fetchval(sql("upsert_team"), team) if team else None
        row = await conn.fetchrow(sql("ensure_officer"), officer, role, team_id)
        if (row["role"], row["team_id"]) != (role, team_id):
            raise Conflict(
                f"officer {officer!r} exists with another role or team; an admin changes "
                "those, issuing a token does not"
            )
        token = new_token()
        token_id = await conn.fetchval(
            sql("insert_token"), hash_token(token), row["id"], expires_at
        )
        await conn.execute(
            sql("audit_action"),
            "token.issued",
            None,
            issued_by,
            team,
            None,
            None,
            "issued",
            {"officer": officer, "role": role, "token_id": token_id},
        )
    return token
