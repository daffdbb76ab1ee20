"""``gateway audit verify`` and ``gateway audit head``: check and export the audit chain.

Exit codes: 0 the chain is intact (or the head was printed); 1 the chain is broken, with a
message naming the first broken record; 2 it could not be checked (no database, not migrated).
Both commands only read: they never migrate or write.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from gateway.accountability import audit
from gateway.cli.runner import connection
from gateway.core.errors import GatewayError
from gateway.core.settings import Settings

INTACT, BROKEN, UNCHECKED = 0, 1, 2


def _head_argument(text: str) -> tuple[int, bytes]:
    try:
        return audit.parse_head(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_commands(subparsers: Any) -> None:
    """Add ``audit verify`` and ``audit head`` to the ``gateway`` command's subparsers."""
    parser = subparsers.add_parser("audit", help="verify and export the tamper-evident audit log")
    parser.set_defaults(run=run)
    commands = parser.add_subparsers(dest="audit_command", required=True)
    verify = commands.add_parser(
        "verify", help="walk the hash chain; exit 1 naming the first broken record"
    )
    verify.add_argument(
        "--expect-head",
        metavar="SEQ:HASH",
        type=_head_argument,
        help="a head exported earlier (gateway audit head): check it is still in the chain",
    )
    head = commands.add_parser("head", help="print the chain head for an outside party to keep")
    head.add_argument("--json", action="store_true", help="print it as a JSON object")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        async with connection(settings, migrate=False) as conn:
            if not await audit.installed(conn):
                print("gateway audit: the database is not migrated", file=sys.stderr)
                return UNCHECKED
            if args.audit_command == "head":
                _print_head(await audit.read_head(conn), as_json=args.json)
                return INTACT
            result = await audit.verify(conn, expect=args.expect_head)
    except GatewayError as exc:
        print(f"gateway audit: could not check: {exc}", file=sys.stderr)
        return UNCHECKED
    return _print_verification(result)


def _print_head(head: audit.Head, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(head.as_json()))
        return
    print(f"seq:    {head.seq}")
    print(f"hash:   {head.hash.hex()}")
    print(f"at:     {head.at.isoformat()}")
    print(f"export: {head.export}")


def _print_verification(result: audit.Verification) -> int:
    if result.first_broken is None:
        print(f"audit log intact: {result.checked} records verified")
        print(f"head: {result.head.export} at {result.head.at.isoformat()}")
        return INTACT
    print(f"audit log BROKEN: {result.first_broken.message}")
    print(f"({result.checked} records verified before it; reason: {result.first_broken.reason})")
    return BROKEN
