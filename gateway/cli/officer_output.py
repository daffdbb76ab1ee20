"""What the officers' commands show and write: a refusal on stderr (and its exit code),
progress bars while a batch runs, tables of batches and their progress, and a results file
streamed to disk (``officer.py`` has the commands)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from gateway.cli.client import (
    ApiError,
    ConnectionFailed,
    GatewayClient,
    GatewayClientError,
    NotAuthorised,
)
from gateway.http.models.batches import Batch, BatchSummary
from gateway.http.models.common import Problem

#: how often ``submit --wait`` asks for the batch's progress (a screen refresh, nothing waits
#: on it)
POLL_SECONDS = 1.0
#: ``submit --wait`` gives up after this many polls in a row that could not reach the gateway
#: (a restart takes a few); the batch goes on regardless
MAX_POLL_FAILURES = 30
FINISHED = frozenset({"done", "cancelled", "rejected"})
#: an output file's extension: the ``format`` the gateway is asked for
RESULT_FORMATS = {".xlsx": "xlsx", ".csv": "csv", ".jsonl": "jsonl", ".zip": "photos"}


class FormatNotOffered(Exception):
    """The gateway does not give results in this format."""


def refused(exc: GatewayClientError, client: GatewayClient) -> int:
    """``exc`` on stderr as the officer needs it; the exit code it stands for."""
    if isinstance(exc, NotAuthorised):
        print(f"gateway: not authorised ({exc.status}): {exc.message}", file=sys.stderr)
        if not client.token:
            print("  no token given: set GATEWAY_TOKEN (or --token)", file=sys.stderr)
        return 3
    if not isinstance(exc, ApiError):
        print(f"gateway: {exc.message}", file=sys.stderr)
        return 3
    print(f"gateway: refused ({exc.status} {exc.code}): {exc.message}", file=sys.stderr)
    reason = exc.details.get("reason")
    if isinstance(reason, str):
        print(f"  rule: {reason}", file=sys.stderr)
    if reason == "requery_without_reason":
        print("  give the reason with --requery-reason TEXT", file=sys.stderr)
    sheet_rows: object = exc.details.get("sheet_rows")
    named = sheet_rows if sheet_rows else exc.details.get("rows")
    if isinstance(named, list) and named:
        listed = cast(list[object], named)
        where = "sheet rows" if named is sheet_rows else "subjects[] at"
        count = exc.details.get("count")
        more = ""
        if isinstance(count, int) and count > len(listed):
            more = f" (first {len(listed)} of {count})"
        print(f"  {where}: {', '.join(str(r) for r in listed)}{more}", file=sys.stderr)
    for problem in exc.problems:
        print(f"  {problem_line(problem)}", file=sys.stderr)
    return 1


def problem_line(problem: Problem) -> str:
    """Where a problem is, as the officer finds it (the sheet's row, the list's index), and
    what it is; the gateway's problems never repeat the value."""
    if problem.sheet_row is not None:
        where = f"sheet row {problem.sheet_row}, "
    elif problem.line is not None:
        where = f"line {problem.line}, "
    elif problem.row is not None:
        where = f"subjects[{problem.row}], "
    else:
        where = ""
    return f"{where}{problem.field}: {problem.problem}"


def batch_heading(batch: Batch) -> Text:
    when = batch.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
    return Text(
        f"batch {batch.id}  {batch.status}\n"
        f"case {batch.case_number}  {batch.subject_count} subject(s)  "
        f"submitted {when} by {batch.officer} ({batch.team})"
    )


def progress_table(batch: Batch) -> Table:
    """Per agency: total, found, not found, failed, waiting; and their sums."""
    table = Table(title=f"batch {batch.id}: {batch.status}")
    columns = ("agency", "total", "found", "not found", "failed", "waiting")
    for column in columns:
        table.add_column(column, justify="left" if column == "agency" else "right")
    sums = [0, 0, 0, 0, 0]
    for name, p in batch.progress.items():
        counts = [p.total, p.found, p.not_found, p.failed, p.waiting]
        sums = [a + b for a, b in zip(sums, counts, strict=True)]
        table.add_row(name, *(str(c) for c in counts))
    if len(batch.progress) > 1:
        table.add_section()
        table.add_row("all", *(str(c) for c in sums))
    return table


def batches_table(batches: list[BatchSummary]) -> Table:
    table = Table(title="batches, newest first")
    table.add_column("id", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("case")
    table.add_column("subjects", justify="right")
    table.add_column("agencies", justify="right")
    table.add_column("submitted", no_wrap=True)
    table.add_column("officer")
    for b in batches:
        table.add_row(
            str(b.id),
            b.status,
            Text(b.case_number),  # text from the gateway, never rich markup
            str(b.subject_count),
            str(len(b.agencies)),
            b.created_at.astimezone().strftime("%Y-%m-%d %H:%M"),
            Text(b.officer),
        )
    return table


async def wait(client: GatewayClient, batch: Batch) -> int:
    """Progress bars per agency (stderr) until the batch finishes; its table (stdout)."""
    columns = (
        TextColumn("{task.description:<11}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
    )
    failures = 0
    held = False
    try:
        with Progress(*columns, console=Console(stderr=True)) as progress:
            bars = {name: progress.add_task(name, counts="") for name in batch.progress}
            while True:
                if batch.status == "pending_approval" and not held:
                    held = True
                    progress.console.print("held for a commander's approval", highlight=False)
                for name, p in batch.progress.items():
                    counts = f"found {p.found}  not found {p.not_found}  failed {p.failed}"
                    if p.waiting:
                        counts += f"  waiting {p.waiting}"
                    progress.update(bars[name], total=p.total, completed=p.done, counts=counts)
                if batch.status in FINISHED:
                    break
                await asyncio.sleep(POLL_SECONDS)
                try:
                    batch = await client.batch(batch.id)
                    failures = 0
                except (ConnectionFailed, ApiError) as exc:
                    transient = isinstance(exc, ConnectionFailed) or exc.status in (502, 503, 504)
                    failures += 1
                    if not transient or failures >= MAX_POLL_FAILURES:
                        raise
    except GatewayClientError as exc:
        code = refused(exc, client)
        print(f"  the batch goes on: gateway status {batch.id}", file=sys.stderr)
        return code
    except asyncio.CancelledError:
        print(f"\nstopped waiting; the batch goes on: gateway status {batch.id}", file=sys.stderr)
        raise
    Console().print(progress_table(batch))
    if batch.status != "done":
        print(f"gateway: batch {batch.id} ended {batch.status}", file=sys.stderr)
        return 1
    return 0


async def download_results(
    client: GatewayClient, batch_id: uuid.UUID, fmt: str, target: Path
) -> int:
    """The batch's results in ``fmt`` written to ``target``; the bytes written."""
    async with client.results(batch_id, {"format": fmt}) as download:
        if download.content_type == "application/json":
            # A gateway that does not know ?format= ignores it and sends a page of results.
            raise FormatNotOffered(fmt)
        return await save(download.chunks, target)


async def save(chunks: AsyncIterator[bytes], target: Path) -> int:
    """``chunks`` into ``target`` through a temporary file beside it, renamed when complete:
    a download that fails leaves no half file (and an older ``target`` as it was). Readable by
    the owner only, as it holds personal data (mkstemp's mode)."""
    fd, temporary = await asyncio.to_thread(
        tempfile.mkstemp, dir=target.parent, prefix=f".{target.name}.", suffix=".part"
    )
    written = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in chunks:
                await asyncio.to_thread(out.write, chunk)
                written += len(chunk)
            await asyncio.to_thread(out.flush)
            await asyncio.to_thread(os.fsync, out.fileno())
        await asyncio.to_thread(os.replace, temporary, target)
    except BaseException:  # also Ctrl-C: no half file left behind
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return written
