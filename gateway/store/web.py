"""Sessions of the web pages: stored as the SHA-256 of the cookie's value, valid only while
the token they were opened with is."""

from __future__ import annotations

from gateway.store import _run
from gateway.store._run import Connection, Record


async def token_of_officer(conn: Connection, token_hash: bytes, officer: str) -> Record | None:
    """(token_id, officer_id, officer, role, team_id, team) when this live token is the
    officer's, else None."""
    return await _run.fetchrow(conn, "token_of_officer", token_hash, officer)


async def open_session(
    conn: Connection,
    id_hash: bytes,
    token_id: int,
    officer_id: int,
    csrf_token: str,
    lifetime_seconds: float,
) -> None:
    await _run.execute(
        conn, "insert_web_session", id_hash, token_id, officer_id, csrf_token, lifetime_seconds
    )


async def find_session(conn: Connection, id_hash: bytes) -> Record | None:
    """(officer_id, officer, role, team_id, team, csrf_token) of a live session."""
    return await _run.fetchrow(conn, "find_web_session", id_hash)


async def end_session(conn: Connection, id_hash: bytes) -> int | None:
    """End it; the officer's id, or None if it was not open."""
    return await _run.fetchval(conn, "end_web_session", id_hash)
