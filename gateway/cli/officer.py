"""``gateway submit|status|batches|cancel|rerun|results``: an officer's work from a terminal,
through the gateway's HTTP API at ``--url`` (default GATEWAY_URL) with ``--token`` (default
GATEWAY_TOKEN; prefer the variable: a flag is visible to other users of the machine).

Exit codes:

- 0: done (``submit --wait``: the batch finished; what failed is in its table)
- 1: the gateway refused or failed the request (a bad row, a rule, no such batch, a batch
  already finished, ...), a waited-for batch ended cancelled or rejected, or the results file
  cannot be written
- 2: a bad command line: an unknown option, a list that cannot be read or is not .xlsx, .csv
  or .json, an output file that is not .xlsx, .csv, .jsonl or .zip, a --url that is not
  http(s) (a bad GATEWAY_URL is a bad setting: 1, as for every command)
- 3: the gateway cannot be reached, the connection broke, or what answers is not a gateway;
  or it did not accept the token (401; 403 when the token's role may not do this)
- 130: interrupted (Ctrl-C); a submitted batch goes on without the command
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console

from gateway.cli import officer_output as output
from gateway.cli.client import (
    ApiError,
    GatewayClient,
    GatewayClientError,
    Submitted,
    new_idempotency_key,
    origin,
)
from gateway.core.agency_settings import http_url
from gateway.core.settings import Settings

UPLOADS = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".csv": "text/csv",
}


def add_commands(commands: Any) -> None:
    gateway = argparse.ArgumentParser(add_help=False)
    gateway.add_argument("--url", type=url_arg, help="the gateway (default GATEWAY_URL)")
    gateway.add_argument(
        "--token",
        help="the officer's token (default GATEWAY_TOKEN; a flag is visible in the process list)",
    )

    submit = commands.add_parser(
        "submit", parents=[gateway], help="submit a list of debtors (.xlsx, .csv or .json)"
    )
    submit.add_argument(
        "file",
        type=Path,
        help=".xlsx or .csv (headings 姓名 and 身份证号), or .json: a list of "
        '{"name", "id_number"} (or an object with such a "subjects" list)',
    )
    submit.add_argument("--case", required=True, help="the filed case, e.g. （2022）吉03执123号")
    submit.add_argument("--reason", required=True, help="why these people are looked up")
    submit.add_argument("--agencies", help="comma-separated, e.g. vehicle,realestate (default all)")
    submit.add_argument(
        "--household-items", help="what 户政 is asked for: identity, photo (default both)"
    )
    submit.add_argument(
        "--requery-reason", help="why people asked about within GATEWAY_REQUERY_DAYS are again"
    )
    submit.add_argument(
        "--idempotency-key",
        help="repeat an earlier submit that may not have arrived, without a second batch "
        "(the key it printed)",
    )
    submit.add_argument(
        "--wait", action="store_true", help="show progress per agency until the batch finishes"
    )
    submit.set_defaults(run=run_submit)

    status = commands.add_parser("status", parents=[gateway], help="a batch's status per agency")
    status.add_argument("batch_id", type=batch_id_arg, metavar="ID")
    status.set_defaults(run=run_status)

    listing = commands.add_parser("batches", parents=[gateway], help="the team's batches")
    listing.add_argument("--limit", type=positive_arg, default=20, help="how many (default 20)")
    listing.set_defaults(run=run_batches)

    cancel = commands.add_parser("cancel", parents=[gateway], help="stop a batch")
    cancel.add_argument("batch_id", type=batch_id_arg, metavar="ID")
    cancel.set_defaults(run=run_cancel)

    rerun = commands.add_parser(
        "rerun", parents=[gateway], help="ask again what failed for want of an answer"
    )
    rerun.add_argument("batch_id", type=batch_id_arg, metavar="ID")
    rerun.add_argument(
        "--failed",
        action="store_true",
        required=True,
        help="what failed because an agency gave no answer within its deadline",
    )
    rerun.set_defaults(run=run_rerun)

    results = commands.add_parser(
        "results", parents=[gateway], help="download a batch's results (.xlsx, .csv, .jsonl, .zip)"
    )
    results.add_argument("batch_id", type=batch_id_arg, metavar="ID")
    results.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="FILE: .xlsx (the workbook), .csv, .jsonl, or .zip (the ID photos)",
    )
    results.set_defaults(run=run_results)


def url_arg(value: str) -> str:
    try:
        return http_url(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def batch_id_arg(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise argparse.ArgumentTypeError("is not a batch id (a UUID)") from None


def positive_arg(value: str) -> int:
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= 100_000:
        raise argparse.ArgumentTypeError("must be a whole number from 1 to 100000")
    return int(value)


def _list(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value is not None else None


@asynccontextmanager
async def api_client(settings: Settings, args: argparse.Namespace) -> AsyncGenerator[GatewayClient]:
    token = args.token if args.token is not None else settings.token
    async with aiohttp.ClientSession() as session:
        yield GatewayClient(session, args.url or settings.url, token)


def _subjects(path: Path, content: bytes) -> list[Any]:
    """The subjects a .json list holds: a JSON array, or an object with a "subjects" array."""
    try:
        value = json.loads(content)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{path} is not JSON") from exc
    if isinstance(value, dict) and "subjects" in value:
        value = value["subjects"]  # pyright: ignore[reportUnknownVariableType]
    if not isinstance(value, list):
        raise ValueError(f'{path} must hold a list of {{"name", "id_number"}} (or "subjects")')
    return value  # pyright: ignore[reportUnknownVariableType]


async def run_submit(settings: Settings, args: argparse.Namespace) -> int:
    suffix = args.file.suffix.lower()
    if suffix not in (*UPLOADS, ".json"):
        print(f"gateway submit: {args.file} must be .xlsx, .csv or .json", file=sys.stderr)
        return 2
    try:
        content = args.file.read_bytes()
        subjects = _subjects(args.file, content) if suffix == ".json" else None
    except OSError as exc:
        print(f"gateway submit: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"gateway submit: {exc}", file=sys.stderr)
        return 2
    fields = {
        "case_number": args.case,
        "reason": args.reason,
        "agencies": args.agencies,
        "household_items": args.household_items,
        "requery_reason": args.requery_reason,
    }
    key = args.idempotency_key or new_idempotency_key()
    async with api_client(settings, args) as client:
        try:
            if subjects is not None:
                body = {name: value for name, value in fields.items() if value is not None}
                for name in ("agencies", "household_items"):
                    if name in body:
                        body[name] = _list(body[name])
                submitted = await client.submit({**body, "subjects": subjects}, key)
            else:
                submitted = await client.upload(
                    {name: value for name, value in fields.items() if value is not None},
                    filename=args.file.name,
                    content=content,
                    content_type=UPLOADS[suffix],
                    idempotency_key=key,
                )
        except GatewayClientError as exc:
            code = output.refused(exc, client)
            # Only a refusal (4xx) says for certain that nothing was stored; after anything
            # else the batch may exist, and the same key makes a repeat return that batch.
            if not (isinstance(exc, ApiError) and exc.status < 500):
                _key_to_repeat(key)
            return code
        except asyncio.CancelledError:  # Ctrl-C while the list was on its way
            _key_to_repeat(key)
            raise
        _accepted(submitted)
        if not args.wait:
            return 0
        return await output.wait(client, submitted.batch)


def _key_to_repeat(key: str) -> None:
    print(f"  to try again without a second batch: --idempotency-key {key}", file=sys.stderr)


def _accepted(submitted: Submitted) -> None:
    batch = submitted.batch
    merged = f" ({batch.merged_rows} repeated row(s) asked once)" if batch.merged_rows else ""
    again = " (submitted before with this key: the same batch)" if submitted.replayed else ""
    print(
        f"batch {batch.id}: {batch.subject_count} subject(s){merged} x {len(batch.agencies)} "
        f"agencies, {batch.status}{again}"
    )


async def run_status(settings: Settings, args: argparse.Namespace) -> int:
    async with api_client(settings, args) as client:
        try:
            batch = await client.batch(args.batch_id)
        except GatewayClientError as exc:
            return output.refused(exc, client)
    Console().print(output.batch_heading(batch), highlight=False)
    Console().print(output.progress_table(batch))
    return 0


async def run_batches(settings: Settings, args: argparse.Namespace) -> int:
    async with api_client(settings, args) as client:
        try:
            batches = await client.batches(args.limit)
        except GatewayClientError as exc:
            return output.refused(exc, client)
    if not batches:
        print("no batches")
        return 0
    Console().print(output.batches_table(batches))
    return 0


async def run_cancel(settings: Settings, args: argparse.Namespace) -> int:
    async with api_client(settings, args) as client:
        try:
            batch = await client.cancel(args.batch_id)
        except GatewayClientError as exc:
            return output.refused(exc, client)
    print(f"batch {batch.id}: {batch.status}; what was not answered will not be asked")
    Console().print(output.progress_table(batch))
    return 0


async def run_rerun(settings: Settings, args: argparse.Namespace) -> int:
    async with api_client(settings, args) as client:
        try:
            rerun = await client.rerun(args.batch_id)
        except GatewayClientError as exc:
            return output.refused(exc, client)
    asked = {name: count for name, count in rerun.requeued.items() if count}
    if not asked:
        print(
            f"batch {rerun.batch.id}: nothing to ask again (no inquiry failed for want of an "
            "answer within its agency's deadline)"
        )
    else:
        each = ", ".join(f"{name} {count}" for name, count in asked.items())
        print(f"batch {rerun.batch.id}: asked again: {each}; {rerun.batch.status}")
    Console().print(output.progress_table(rerun.batch))
    return 0


async def run_results(settings: Settings, args: argparse.Namespace) -> int:
    target: Path = args.output
    fmt = output.RESULT_FORMATS.get(target.suffix.lower())
    if fmt is None:
        print(f"gateway results: {target} must be .xlsx, .csv, .jsonl or .zip", file=sys.stderr)
        return 2
    async with api_client(settings, args) as client:
        try:
            size = await output.download_results(client, args.batch_id, fmt, target)
        except GatewayClientError as exc:
            return output.refused(exc, client)
        except output.FormatNotOffered:
            print(
                f"gateway results: the gateway at {origin(client.base_url)} does not give results "
                "as files (is it older than this command?)",
                file=sys.stderr,
            )
            return 1
        except OSError as exc:
            print(f"gateway results: cannot write {target}: {exc.strerror}", file=sys.stderr)
            return 1
    print(f"results of batch {args.batch_id} written to {target} ({size} bytes)")
    return 0
