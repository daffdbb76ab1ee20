"""``gateway token revoke|list``, ``gateway team create``, ``gateway case register|import``:
the technology office's commands, run on the server. Each change is audited as made by
``cli:<os user>``."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.accountability import admin, cases
from gateway.accountability.admin import Actor
from gateway.cli.runner import connection
from gateway.core.errors import RequestError, ValidationFailed
from gateway.core.settings import Settings


def add_commands(commands: Any) -> None:
    team = commands.add_parser("team", help="manage teams")
    team_commands = team.add_subparsers(dest="team_command", required=True)
    create = team_commands.add_parser("create", help="create a team")
    create.add_argument("name")
    create.set_defaults(run=team_create)

    case = commands.add_parser("case", help="register filed cases for their teams")
    case_commands = case.add_subparsers(dest="case_command", required=True)
    register = case_commands.add_parser("register", help="register (or transfer) one case")
    register.add_argument("case_number", help="e.g. （2022）吉03执123号")
    register.add_argument("--team", required=True, help="the team handling the case")
    register.set_defaults(run=case_register)
    load = case_commands.add_parser("import", help="register cases from CSV (case_number,team)")
    load.add_argument("file", type=Path, help="UTF-8 CSV with a case_number,team header")
    load.set_defaults(run=case_import)


def add_token_commands(token_commands: Any) -> None:
    """Beside ``gateway token create``."""
    revoke = token_commands.add_parser("revoke", help="revoke a token, or all of an officer's")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--token", help="the token itself ('-' reads it from stdin)")
    which.add_argument("--id", type=int, help="the token's id (see gateway token list)")
    which.add_argument("--officer", help="revoke every live token of this officer")
    revoke.set_defaults(run=token_revoke)
    listing = token_commands.add_parser("list", help="tokens (ids and dates, never the token)")
    listing.add_argument("--officer", help="only this officer's")
    listing.set_defaults(run=token_list)


def _refused(exc: RequestError) -> int:
    print(f"gateway: {exc.message}", file=sys.stderr)
    if isinstance(exc, ValidationFailed):
        for p in exc.problems:
            where = f"line {p['line']}: " if p.get("line") else ""
            print(f"  {where}{p['field']}: {p['problem']}", file=sys.stderr)
    return 1


async def team_create(settings: Settings, args: argparse.Namespace) -> int:
    try:
        name = admin.check_name(args.name, "name")
        async with connection(settings) as conn:
            await admin.create_team(conn, name, Actor.cli())
    except RequestError as exc:
        return _refused(exc)
    print(f"team {name} created")
    return 0


async def case_register(settings: Settings, args: argparse.Namespace) -> int:
    try:
        case_number = cases.canonical_case_number(args.case_number)
        team = admin.check_name(args.team, "team")
        async with connection(settings) as conn:
            counts = await cases.register(conn, [cases.CaseEntry(case_number, team)], Actor.cli())
    except RequestError as exc:
        return _refused(exc)
    done = next(name for name, count in counts.items() if count)
    print(f"{case_number}: {done} (team {team})")
    return 0


async def case_import(settings: Settings, args: argparse.Namespace) -> int:
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"gateway: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        entries = cases.parse_csv(data)
        async with connection(settings) as conn:
            counts = await cases.register(conn, entries, Actor.cli())
    except RequestError as exc:
        return _refused(exc)
    summary = ", ".join(f"{count} {name}" for name, count in counts.items())
    print(f"{len(entries)} case(s): {summary}")
    return 0


async def token_revoke(settings: Settings, args: argparse.Namespace) -> int:
    token = args.token
    if token == "-":  # noqa: S105 - not a password: "read the token from stdin"
        token = sys.stdin.readline().strip()
    try:
        async with connection(settings) as conn:
            if args.officer is not None:
                result = await admin.revoke_officer_tokens(conn, args.officer, Actor.cli())
            else:
                result = await admin.revoke_token(conn, Actor.cli(), token_id=args.id, token=token)
    except RequestError as exc:
        return _refused(exc)
    print(f"revoked {result['revoked']} token(s) of {result['officer']}")
    return 0


async def token_list(settings: Settings, args: argparse.Namespace) -> int:
    try:
        async with connection(settings) as conn:
            tokens = await admin.list_tokens(conn, args.officer)
    except RequestError as exc:
        return _refused(exc)
    now = datetime.now(UTC)
    for t in tokens:
        expires = t["expires_at"] or "never"
        state = "live"
        if t["revoked_at"]:
            state = "revoked"
        elif t["expires_at"] and datetime.fromisoformat(t["expires_at"]) <= now:
            state = "expired"
        print(f"{t['id']}\t{t['officer']}\t{t['role']}\t{state}\texpires {expires}")
    return 0
