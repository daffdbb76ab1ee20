"""``gateway purge [--dry-run]``: purge now the personal data that has outlived
GATEWAY_RETENTION_DAYS, as the leader replica does every GATEWAY_PURGE_SECONDS
(``gateway.accountability.retention``). The purge is audited as made by ``cli:<os user>``.

Exit codes: 0 done (or, with --dry-run, listed); 2 the database could not be reached or is
not migrated.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from typing import Any

from gateway.accountability import retention
from gateway.cli.runner import database
from gateway.core.errors import GatewayError
from gateway.core.settings import Settings

DONE, UNREACHABLE = 0, 2


def add_commands(commands: Any) -> None:
    purge = commands.add_parser(
        "purge", help="purge names, identifiers and agency records past the retention period"
    )
    purge.add_argument("--dry-run", action="store_true", help="list what is due; change nothing")
    purge.set_defaults(run=run)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    try:
        async with database(settings) as pool:
            if args.dry_run:
                report = await retention.dry_run(pool, settings, now)
            else:
                report = await retention.purge(pool, settings, now, f"cli:{getpass.getuser()}")
    except GatewayError as exc:
        print(f"gateway purge: {exc}", file=sys.stderr)
        return UNREACHABLE
    _print(report, settings.retention_days, dry_run=args.dry_run)
    return DONE


def _print(report: retention.PurgeReport, days: int, *, dry_run: bool) -> None:
    before = report.finished_before.isoformat(timespec="seconds")
    verb = "due" if dry_run else "purged"
    print(f"retention: {days} days (batches finished before {before})")
    for batch in report.batches:
        finished = batch.finished_at.isoformat(timespec="seconds")
        print(f"  {batch.id}  finished {finished}  {batch.subjects} subjects  "
              f"{batch.records} agency records")  # fmt: skip
    print(f"{verb}: {len(report.batches)} batches, {report.subjects} subjects, "
          f"{report.records} agency records")  # fmt: skip
    if dry_run:
        print("dry run: nothing was changed")
