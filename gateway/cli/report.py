"""``gateway report --since DATE --until DATE [--team NAME] [--xlsx FILE]``: the court's
statistics report for the batches submitted from ``--since`` up to (not including)
``--until``, days in GATEWAY_TIMEZONE: the table per team and agency with the total (or one
team's), then the sentence in the court's own form; ``--xlsx`` also writes both to a
workbook (every cell text, never a formula).

Exit codes: 0 printed (and written); 1 no such team, the workbook cannot be written, or the
database cannot be read; 2 a bad command line (a date that is not YYYY-MM-DD, ``--until``
not after ``--since``).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from rich.text import Text

from gateway.accountability import admin, report
from gateway.cli.runner import connection
from gateway.core.errors import ValidationFailed
from gateway.core.settings import Settings
from gateway.http.exports import write_text_sheet


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "report", help="the court's statistics report (table and sentence), optionally .xlsx"
    )
    parser.add_argument("--since", type=_day, required=True, help="first day, YYYY-MM-DD")
    parser.add_argument("--until", type=_day, required=True, help="day after the last, exclusive")
    parser.add_argument("--team", help="only this team's figures")
    parser.add_argument("--xlsx", type=Path, help="also write the report to this .xlsx file")
    parser.set_defaults(run=run_report)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a day, YYYY-MM-DD") from None


def title(since: date, until: date, team: str | None) -> str:
    """The report's heading: the window, and the team if only one."""
    heading = f"执行查控统计 {since.isoformat()} 至 {until.isoformat()}（不含）"
    return f"{heading} {team}" if team is not None else heading


async def run_report(settings: Settings, args: argparse.Namespace) -> int:
    if args.until <= args.since:
        print("gateway report: --until must be after --since", file=sys.stderr)
        return 2
    zone = ZoneInfo(settings.timezone)
    since = datetime.combine(args.since, time(), zone)
    until = datetime.combine(args.until, time(), zone)
    try:
        async with connection(settings) as conn:
            if args.team is not None:
                await admin.team_id(conn, args.team)
            figures = await report.gather(conn, since, until)
            # holds are the court's (a team's report has none of its own)
            holds = None if args.team else await report.control_figures(conn, since, until)
    except ValidationFailed as exc:  # no such team
        print(f"gateway report: --team: {exc.problems[0]['problem']}", file=sys.stderr)
        return 1
    heading = title(args.since, args.until, args.team)
    rows = figures.rows(args.team)
    sentence = report.sentence(figures.figures(args.team))
    table = Table(title=heading, caption=report.NOTE)
    for name, _ in report.COLUMNS:
        table.add_column(name, justify="left" if name in ("队组", "查询单位") else "right")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # a team's name is text, not markup
    Console().print(table)
    print(sentence)
    if holds is not None:
        print(holds.sentence())
    if args.xlsx is not None:
        workbook = write_text_sheet(
            "统计",
            [
                [heading],
                [name for name, _ in report.COLUMNS],
                *rows,
                [],
                ["报告", sentence],
                *([["控制措施", holds.sentence()]] if holds is not None else []),
                ["说明", report.NOTE],
            ],
        )
        try:
            args.xlsx.write_bytes(workbook)
        except OSError as exc:
            print(f"gateway report: cannot write {args.xlsx}: {exc.strerror}", file=sys.stderr)
            return 1
    return 0
