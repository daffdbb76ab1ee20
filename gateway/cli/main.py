"""``gateway``: serve, migrate, issue tokens, run the demo, and the commands of the modules in
``COMMAND_MODULES`` (keys, audit, teams, cases, token revoke/list, report; and an officer's
submit, status, batches, cancel, rerun, results, controls and 终本 through the HTTP API)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import importlib
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from gateway.core import logs
from gateway.core.errors import GatewayError
from gateway.core.roles import ROLES
from gateway.core.settings import Settings

log = structlog.get_logger("gateway.cli")


#: the module of gateway/cli that adds each command, imported only when its command runs
#: (all of them for --help, and for the commands defined here: serve, migrate, demo): an
#: officer's `gateway status` need not load the server
COMMAND_MODULES = {
    "keys": "keys",
    "audit": "audit",
    "team": "admin",
    "case": "admin",
    "token": "admin",  # token revoke, token list (token create is here)
    "report": "report",
    "purge": "retention",
    **dict.fromkeys(("submit", "status", "batches", "cancel", "rerun", "results"), "officer"),
    **dict.fromkeys(("controls", "control", "closure", "reopen", "history"), "controls"),
}


async def serve(settings: Settings, _args: argparse.Namespace) -> int:
    from gateway.cli.runner import serving, wait_for_stop
    from gateway.http.app import make_app
    from gateway.http.keys import DISPATCHER, DRAINING
    from gateway.store import db

    async with db.database_url(settings.database_url, settings.data_dir) as dsn:
        app = make_app(settings, dsn)
        async with serving(app, settings.host, settings.port) as url:
            collect_less(settings.gc_threshold)
            log.info("serving", url=url)
            await wait_for_stop()
            # Readiness fails at once; the calls in flight may end within the deadline; the
            # rest is handed back, the answers flushed and the agency permits released.
            app[DRAINING].set()
            if DISPATCHER in app:
                await app[DISPATCHER].drain(settings.drain_seconds)
    return 0


async def migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from gateway.cli.runner import database
    from gateway.store import db, migrations

    async with database(settings, migrate=False) as pool, db.connection(pool) as conn:
        applied = await migrations.migrate(conn)
    print(f"applied {len(applied)} migration(s): {[m.version for m in applied]}")
    return 0


async def token_create(settings: Settings, args: argparse.Namespace) -> int:
    if args.role == "officer" and not args.team:
        print("gateway token create: an officer needs --team", file=sys.stderr)
        return 2
    officer = args.officer or f"{args.role}-{args.team or 'centre'}"
    expires = datetime.now(UTC) + timedelta(days=args.expires_days) if args.expires_days else None
    from gateway.accountability.auth import create_token
    from gateway.cli.runner import connection

    async with connection(settings) as conn:
        token = await create_token(
            conn,
            officer=officer,
            role=args.role,
            team=args.team,
            expires_at=expires,
            issued_by=f"cli:{getpass.getuser()}",
        )
    print(f"token for {officer} ({args.role}{', team ' + args.team if args.team else ''}):")
    print(token)
    return 0


async def demo(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.cli.demo import run_demo  # rich and the mocks: only for the demo

    await run_demo(settings, args)
    return 0


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line; with ``command``, only what that command needs is imported."""
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the HTTP API and the dispatcher").set_defaults(run=serve)
    commands.add_parser("migrate", help="apply database migrations").set_defaults(run=migrate)
    demo_parser = commands.add_parser(
        "demo", help="embedded database, mock agencies, gateway, a batch"
    )
    demo_parser.add_argument("--subjects", type=int, default=200)
    demo_parser.add_argument("--latency", choices=["realistic", "zero"], default="realistic")
    demo_parser.add_argument("--exit", action="store_true", help="exit after the batch")
    demo_parser.add_argument(
        "--household-items",
        default="identity,photo",
        help="what the household registry is asked for: identity, photo or both (comma-separated)",
    )
    demo_parser.set_defaults(run=demo)
    token = commands.add_parser("token", help="manage API tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="issue a token; printed as the last line")
    create.add_argument("--role", choices=ROLES, required=True)
    create.add_argument("--team", help="the officer's team (required for officers)")
    create.add_argument("--officer", help="the officer's name (login); default from role/team")
    create.add_argument("--expires-days", type=int, default=None)
    create.set_defaults(run=token_create)
    wanted = COMMAND_MODULES.get(command or "")
    for name in dict.fromkeys(COMMAND_MODULES.values()):  # each once, in the table's order
        if wanted is None or name == wanted:
            module = importlib.import_module(f"gateway.cli.{name}")
            if name == "admin":
                module.add_token_commands(token_commands)
            module.add_commands(commands)
    return parser


def event_loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """GATEWAY_EVENT_LOOP's loop (None: asyncio's default)."""
    if name == "uvloop":
        try:
            import uvloop
        except ImportError:  # not built for this platform: asyncio's own loop serves
            return None
        return uvloop.new_event_loop
    return None


def collect_less(threshold: int) -> None:
    """GATEWAY_GC_THRESHOLD: freeze what exists now (modules, the application, its caches:
    alive until the process ends, yet traversed by every full collection) and collect the
    youngest generation after ``threshold`` allocations instead of 700. Answers and requests
    mostly die young by reference counting; a collection every 700 allocations found little
    and, with the older generations it triggers, cost about a sixth of the CPU under load."""
    if threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(threshold, middle, old)


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    # the command is the first word; a flag first (--help) needs every command's parser
    command = given[0] if given and not given[0].startswith("-") else None
    args = _parser(command).parse_args(given)
    try:
        settings = Settings.from_env()
        if args.command == "demo":
            # The demo's screen is for people; its JSON log lines go to a file beside the data.
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            log_file = (settings.data_dir / "demo.log").open("a", encoding="utf-8")
            logs.configure(settings.log_level, "json", stream=log_file)
        else:
            # Only the server logs to stdout; commands keep stdout for their answer.
            stream = None if args.command == "serve" else sys.stderr
            logs.configure(settings.log_level, settings.log_format, stream=stream)
        run: Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]] = args.run
        with asyncio.Runner(loop_factory=event_loop_factory(settings.event_loop)) as runner:
            return runner.run(run(settings, args))
    except GatewayError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
