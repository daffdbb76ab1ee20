"""Signing in to the web pages: an officer's name and one of their tokens open a session.

The session's id is 256 random bits, sent as an HttpOnly, SameSite=Strict cookie and stored
only as its SHA-256; it carries a CSRF token every form must echo. A session ends at sign-out,
at expiry, or as soon as its token is revoked or expires. Signing in and out is audited.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import cast

from gateway.accountability.auth import Caller, Role, hash_token
from gateway.store import audit as store_audit
from gateway.store import db
from gateway.store import web as store
from gateway.store.db import Pool, Record


class SignInRefused(Exception):
    """The name and token do not go together (or the token is revoked or expired)."""


@dataclass(frozen=True, slots=True)
class Session:
    caller: Caller
    csrf_token: str

    def csrf_ok(self, given: str | None) -> bool:
        return given is not None and same_secret(given, self.csrf_token)


def same_secret(given: str, expected: str) -> bool:
    """Compared in constant time, as bytes: ``hmac.compare_digest`` refuses a ``str`` that
    is not ASCII with a TypeError, and a form may send anything."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def _id_hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode("utf-8")).digest()


def _caller(row: Record) -> Caller:
    return Caller(
        row["officer_id"], row["officer"], cast(Role, row["role"]), row["team_id"], row["team"]
    )


async def sign_in(
    pool: Pool, officer: str, token: str, lifetime_seconds: float
) -> tuple[str, Session]:
    """(the session id for the cookie, the session); ``SignInRefused`` otherwise."""
    if not (token.isascii() and token.isprintable()) or not officer.isprintable():
        raise SignInRefused
    session_id = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    async with db.transaction_on(pool) as conn:
        row = await store.token_of_officer(conn, hash_token(token), officer)
        if row is None:
            raise SignInRefused
        await store.open_session(
            conn, _id_hash(session_id), row["token_id"], row["officer_id"], csrf_token,
            lifetime_seconds,
        )  # fmt: skip
        caller = _caller(row)
        await store_audit.action(
            conn,
            "web.signed_in",
            officer_id=caller.officer_id,
            officer=caller.officer,
            team=caller.team,
            outcome="signed_in",
            detail={"token_id": row["token_id"]},
        )
    return session_id, Session(caller, csrf_token)


async def find(pool: Pool, session_id: str) -> Session | None:
    """The live session with this id, or None."""
    if not session_id or len(session_id) > 100 or not session_id.isascii():
        return None
    async with db.connection(pool) as conn:
        row = await store.find_session(conn, _id_hash(session_id))
    return None if row is None else Session(_caller(row), row["csrf_token"])


async def sign_out(pool: Pool, session: Session, session_id: str) -> None:
    async with db.transaction_on(pool) as conn:
        if await store.end_session(conn, _id_hash(session_id)) is None:
            return
        caller = session.caller
        await store_audit.action(
            conn,
            "web.signed_out",
            officer_id=caller.officer_id,
            officer=caller.officer,
            team=caller.team,
            outcome="signed_out",
            detail={},
        )
