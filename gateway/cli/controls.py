"""Control actions and 终本 from a terminal, through the HTTP API (as ``gateway.cli.officer``):

- ``gateway controls [--case C] [--status S] [--expiring-within DAYS]``: the team's holds;
- ``gateway control ask BATCH --row R --agency A --asset X --action seal|seize|freeze
  --reason WHY [--term DAYS] [--amount YUAN]``: ask for a hold (held for approval);
- ``gateway control show|approve|reject|renew|release ID``: one hold, a commander's decision
  (``--note``, ``--override-reason``), a renewal (``--term``), a release;
- ``gateway closure CASE [--on DATE]``, ``gateway reopen CASE``, ``gateway history CASE``.

Server and token from ``--url``/``--token`` or GATEWAY_URL/GATEWAY_TOKEN. Exit codes: 0 done,
1 refused by the gateway (the reason and every problem on stderr), 2 bad arguments, 3 not
authorised or the gateway unreachable.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from connectors.controls import ACTIONS, CONTROL_ACTIONS
from gateway.cli import officer_output as output
from gateway.cli.client import GatewayClientError
from gateway.cli.officer import api_client, batch_id_arg, positive_arg, url_arg
from gateway.core.settings import Settings
from gateway.http.models.controls import CaseHistory, Control

STATUSES = (
    "pending_approval", "rejected", "sending", "in_effect", "queued_behind", "refused",
    "released", "expired",
)  # fmt: skip


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError("is not a date (YYYY-MM-DD)") from None


def add_commands(commands: Any) -> None:
    gateway = argparse.ArgumentParser(add_help=False)
    gateway.add_argument("--url", type=url_arg, help="the gateway (default GATEWAY_URL)")
    gateway.add_argument("--token", help="your token (default GATEWAY_TOKEN)")

    listing = commands.add_parser("controls", parents=[gateway], help="the team's holds")
    listing.add_argument("--case", help="one case's")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--expiring-within", type=int, metavar="DAYS")
    listing.add_argument("--limit", type=positive_arg, default=100)
    listing.set_defaults(run=run_list)

    control = commands.add_parser("control", help="ask for, decide, renew or release a hold")
    steps = control.add_subparsers(dest="control_command", required=True)
    ask = steps.add_parser("ask", parents=[gateway], help="ask for a hold on a found asset")
    ask.add_argument("batch_id", type=batch_id_arg)
    ask.add_argument("--row", type=int, required=True, help="the debtor's row in the batch")
    ask.add_argument("--agency", required=True, choices=sorted(CONTROL_ACTIONS))
    ask.add_argument("--asset", required=True, help="certificate number, plate or account")
    ask.add_argument("--action", required=True, choices=ACTIONS)
    ask.add_argument("--reason", required=True)
    ask.add_argument("--term", type=positive_arg, help="days (default: the longest allowed)")
    ask.add_argument("--amount", help="yuan, to freeze")
    ask.set_defaults(run=run_ask)
    for name, text in (
        ("show", "one hold"),
        ("approve", "approve (a commander other than the one who asked)"),
        ("reject", "reject (final)"),
        ("renew", "renew a hold in effect, on or before its last day"),
        ("release", "release a hold"),
    ):
        step = steps.add_parser(name, parents=[gateway], help=text)
        step.add_argument("control_id", type=positive_arg)
        if name in ("approve", "reject"):
            step.add_argument("--note")
        if name == "approve":
            step.add_argument("--override-reason", help="to approve a freeze over the amount")
        if name == "renew":
            step.add_argument("--term", type=positive_arg, help="days (default: the longest)")
        step.set_defaults(run=run_step, step=None if name == "show" else name)

    closure = commands.add_parser("closure", parents=[gateway], help="close a case (终本)")
    closure.add_argument("case")
    closure.add_argument("--on", type=_day, help="the date of closure (default today)")
    closure.set_defaults(run=run_case, step="closure")
    reopen = commands.add_parser("reopen", parents=[gateway], help="reopen a closed case")
    reopen.add_argument("case")
    reopen.set_defaults(run=run_case, step="reopen")
    history = commands.add_parser("history", parents=[gateway], help="a case's history")
    history.add_argument("case")
    history.set_defaults(run=run_case, step=None)


async def run_list(settings: Settings, args: argparse.Namespace) -> int:
    params = {"limit": str(min(args.limit, 500))}
    if args.case:
        params["case_number"] = args.case
    if args.status:
        params["status"] = args.status
    if args.expiring_within is not None:
        params["expiring_within"] = str(args.expiring_within)
    async with api_client(settings, args) as client:
        try:
            page = await client.controls(params)
        except GatewayClientError as exc:
            return output.refused(exc, client)
    if not page.items:
        print("no holds")
        return 0
    table = Table()
    for column in ("id", "case", "agency", "asset", "action", "status", "receipt", "last day"):
        table.add_column(column)
    for c in page.items:
        status = c.status + (f" #{c.position}" if c.position else "")
        status += f" ({c.sending} being sent)" if c.sending else ""
        cells = (str(c.id), c.case_number, c.agency, c.asset or "–", c.action, status,
                 c.receipt_no or "–", str(c.expires_on or "–"))  # fmt: skip
        table.add_row(*(Text(cell) for cell in cells))
    Console().print(table)
    return 0


async def run_ask(settings: Settings, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "batch_id": str(args.batch_id), "row": args.row, "agency": args.agency,
        "asset": args.asset, "action": args.action, "reason": args.reason,
    }  # fmt: skip
    if args.term is not None:
        body["term_days"] = args.term
    if args.amount is not None:
        body["amount"] = args.amount
    async with api_client(settings, args) as client:
        try:
            made = await client.ask_control(body)
        except GatewayClientError as exc:
            return output.refused(exc, client)
    _show(made)
    return 0


async def run_step(settings: Settings, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {}
    for name in ("note", "override_reason"):
        if getattr(args, name, None):
            body[name] = getattr(args, name)
    if getattr(args, "term", None) is not None:
        body["term_days"] = args.term
    async with api_client(settings, args) as client:
        try:
            made = await client.control(args.control_id, args.step, **body)
        except GatewayClientError as exc:
            return output.refused(exc, client)
    _show(made)
    return 0


async def run_case(settings: Settings, args: argparse.Namespace) -> int:
    body = {"closed_on": args.on.isoformat()} if getattr(args, "on", None) else {}
    async with api_client(settings, args) as client:
        try:
            history = await client.case(args.case, args.step, **body)
        except GatewayClientError as exc:
            return output.refused(exc, client)
    _history(history)
    return 0


def _show(c: Control) -> None:
    line = f"control {c.id}: {c.action} {c.agency} {c.asset or ''} on {c.case_number}: {c.status}"
    if c.sending:
        line += f" ({c.sending} being sent)"
    if c.receipt_no:
        line += f"; receipt {c.receipt_no}"
    if c.expires_on:
        line += f"; last day {c.expires_on}"
    if c.position:
        line += f"; place in line {c.position}"
    if c.refusal:
        line += f"; refused: {c.refusal}"
    print(line)


def _history(history: CaseHistory) -> None:
    closure = history.closure
    print(f"{history.case_number} ({history.team})")
    if closure is not None:
        nxt = f", next re-query {closure.next_due_on}" if closure.next_due_on else ""
        print(
            f"closed on {closure.closed_on}: {closure.rounds_done}/{closure.rounds} re-queries{nxt}"
        )
    table = Table()
    for column in ("at", "event", "control", "detail"):
        table.add_column(column)
    for e in history.events:
        detail = ", ".join(f"{k}={v}" for k, v in e.detail.items() if v is not None)
        cells = (e.at.isoformat(timespec="minutes"), e.kind, str(e.control_id or ""), detail)
        table.add_row(*(Text(cell) for cell in cells))
    Console().print(table)
