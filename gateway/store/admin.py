"""Teams, officers, tokens (only their SHA-256) and filed cases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from gateway.store import _run
from gateway.store._run import Connection, Record


async def caller_by_token(conn: Connection, token_hash: bytes) -> Record | None:
    """(officer_id, officer, role, team_id, team) of a live token."""
    return await _run.fetchrow(conn, "find_token", token_hash)


async def upsert_team(conn: Connection, name: str) -> int:
    return int(await _run.fetchval(conn, "upsert_team", name))


async def ensure_officer(conn: Connection, name: str, role: str, team_id: int | None) -> Record:
    """(id, role, team_id): the officer, created with this role and team if new."""
    row = await _run.fetchrow(conn, "ensure_officer", name, role, team_id)
    assert row is not None  # inserted or found
    return row


async def insert_token(
    conn: Connection, token_hash: bytes, officer_id: int, expires_at: datetime | None
) -> int:
    return int(await _run.fetchval(conn, "insert_token", token_hash, officer_id, expires_at))


async def teams_by_name(conn: Connection, names: Sequence[str]) -> dict[str, int]:
    return {r["name"]: r["id"] for r in await _run.fetch(conn, "teams_by_name", list(names))}


async def insert_team(conn: Connection, name: str) -> Record | None:
    """(id, name, created_at), or None if a team of that name exists."""
    return await _run.fetchrow(conn, "insert_team", name)


async def list_teams(conn: Connection) -> list[Record]:
    return await _run.fetch(conn, "list_teams")


async def insert_officer(conn: Connection, name: str, role: str, team_id: int | None) -> bool:
    """False if an officer of that name exists."""
    return await _run.fetchval(conn, "insert_officer", name, role, team_id) is not None


async def get_officer(conn: Connection, name: str) -> Record | None:
    return await _run.fetchrow(conn, "get_officer", name)


async def list_officers(conn: Connection, after: str | None, limit: int) -> list[Record]:
    return await _run.fetch(conn, "list_officers", after, limit)


async def list_tokens(conn: Connection, officer: str | None) -> list[Record]:
    return await _run.fetch(conn, "list_tokens", officer)


async def token_by_id(conn: Connection, token_id: int) -> Record | None:
    return await _run.fetchrow(conn, "token_by_id", token_id)


async def token_by_hash(conn: Connection, token_hash: bytes) -> Record | None:
    return await _run.fetchrow(conn, "token_by_hash", token_hash)


async def revoke_tokens(conn: Connection, token_ids: Sequence[int]) -> list[int]:
    """The ids revoked now (those still live)."""
    return [r["id"] for r in await _run.fetch(conn, "revoke_tokens", list(token_ids))]


async def revoke_officer_tokens(conn: Connection, officer_id: int) -> list[int]:
    return [r["id"] for r in await _run.fetch(conn, "revoke_officer_tokens", officer_id)]


async def lock_cases(conn: Connection, case_numbers: Sequence[str]) -> dict[str, str]:
    """The cases about to be registered, locked: case number -> its team's name."""
    rows = await _run.fetch(conn, "lock_cases", list(case_numbers))
    return {r["case_number"]: r["team"] for r in rows}


async def upsert_cases(
    conn: Connection,
    case_numbers: Sequence[str],
    team_ids: Sequence[int],
    registered_by: str,
    amounts: Sequence[Decimal | None] | None = None,
) -> None:
    """``amounts``: each case's amount to enforce, None leaving it as it is."""
    amounts = list(amounts) if amounts is not None else [None] * len(case_numbers)
    await _run.execute(
        conn, "upsert_cases", list(case_numbers), list(team_ids), registered_by, amounts
    )


async def list_cases(
    conn: Connection, team: str | None, after: str | None, limit: int
) -> list[Record]:
    return await _run.fetch(conn, "list_cases", team, after, limit)
