"""Filed cases and the team handling each: only these may be queried, and only by that team.

The technology office registers cases one at a time (``gateway case register``, ``POST
/v1/cases``) or in bulk from a CSV file exported from the case-management system (``gateway
case import``, ``POST /v1/cases/import``). A bulk import is all or nothing: any bad row refuses
the whole file, and every problem is listed. Registering a case for another team transfers it
(audited as ``case.transferred``).

CSV: UTF-8 (a BOM, as spreadsheet programs write, is fine), a header naming the columns
``case_number`` and ``team``, one case per row::

    case_number,team
    （2022）吉03执123号,执行一组
    (2024)吉0302执恢45号,执行二组
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from gateway.accountability.admin import Actor, check_name
from gateway.core.errors import ValidationFailed
from gateway.core.identifiers import InvalidCaseNumber, parse_case_number
from gateway.store import admin as store
from gateway.store import audit as store_audit
from gateway.store import controls as store_controls
from gateway.store import db
from gateway.store.db import Connection

COLUMNS = ("case_number", "team")
MAX_PROBLEMS = 1000
MAX_ROWS = 100_000


class CaseEntry(NamedTuple):
    case_number: str  # canonical
    team: str
    line: int | None = None  # in the CSV file, for problems found later
    #: the amount the judgment requires (执行标的, yuan), checked against freezes
    amount: Decimal | None = None


def canonical_case_number(value: Any, field: str = "case_number") -> str:
    if not isinstance(value, str) or not value.strip():
        problem = "is required (e.g. （2022）吉03执123号)"
        raise ValidationFailed([{"row": None, "field": field, "problem": problem}])
    try:
        return parse_case_number(value).canonical
    except InvalidCaseNumber as exc:
        raise ValidationFailed([{"row": None, "field": field, "problem": exc.problem}]) from exc


def parse_csv(data: bytes) -> list[CaseEntry]:
    """One entry per data row, or ``ValidationFailed`` listing every
    problem as ``{"row", "line", "field", "problem"}`` (row: 0-based data row; line: 1-based)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = "must be UTF-8 text (save the spreadsheet as CSV UTF-8)"
        raise ValidationFailed([_problem(None, None, "(file)", problem)]) from exc
    if not text.strip():
        raise ValidationFailed([_problem(None, None, "(file)", "is empty")])
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader, list[str]())]
    except csv.Error as exc:
        raise ValidationFailed([_problem(None, 1, "(header)", f"is not CSV: {exc}")]) from exc
    if sorted(header) != sorted(COLUMNS):
        problem = "must name exactly the columns case_number and team"
        raise ValidationFailed([_problem(None, 1, "(header)", problem)])
    index = {name: header.index(name) for name in COLUMNS}
    problems: list[dict[str, Any]] = []
    entries: list[CaseEntry] = []
    first_row: dict[str, int] = {}

    def add(row: int, line: int, field: str, problem: str) -> None:
        problems.append(_problem(row, line, field, problem))

    row = -1
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue  # blank lines, as spreadsheets leave at the end
            row += 1
            line = reader.line_num
            if row >= MAX_ROWS:
                add(row, line, "(file)", f"holds more than {MAX_ROWS} rows; split it")
                break
            if len(record) != len(header):
                add(row, line, "(row)", f"has {len(record)} columns, the header {len(header)}")
                continue
            raw_case, raw_team = record[index["case_number"]], record[index["team"]]
            case_number, team = None, ""
            try:
                case_number = parse_case_number(raw_case).canonical
            except InvalidCaseNumber as exc:
                add(row, line, "case_number", exc.problem)
            try:  # the check an admin's team name passes (NUL, control characters, '/' ...)
                team = check_name(raw_team, "team")
            except ValidationFailed as exc:
                add(row, line, "team", exc.problems[0]["problem"])
            if case_number is not None and case_number in first_row:
                add(row, line, "case_number", f"repeats row {first_row[case_number]}")
            elif case_number is not None and team:
                first_row[case_number] = row
                entries.append(CaseEntry(case_number, team, line))
    except csv.Error as exc:
        add(row + 1, reader.line_num, "(row)", f"is not CSV: {exc}")
    if not problems and not entries:
        raise ValidationFailed([_problem(None, None, "(file)", "holds no cases")])
    _raise_if(problems)
    return entries


def _problem(row: int | None, line: int | None, field: str, problem: str) -> dict[str, Any]:
    return {"row": row, "line": line, "field": field, "problem": problem}


def _raise_if(problems: list[dict[str, Any]]) -> None:
    if problems:
        message = f"{len(problems)} problem(s) found; nothing was stored"
        if len(problems) > MAX_PROBLEMS:
            message += f" (first {MAX_PROBLEMS} listed)"
        raise ValidationFailed(problems[:MAX_PROBLEMS], message)


async def register(conn: Connection, entries: Sequence[CaseEntry], actor: Actor) -> dict[str, int]:
    """Register (or transfer) cases, all or nothing. Teams must exist."""
    wanted = sorted({e.team for e in entries})
    teams = await store.teams_by_name(conn, wanted)
    problem = "no such team (an admin creates teams first)"
    if len(entries) == 1 and entries[0].line is None and entries[0].team not in teams:
        raise ValidationFailed([{"row": None, "field": "team", "problem": problem}])
    _raise_if(
        [
            _problem(row, e.line, "team", problem)
            for row, e in enumerate(entries)
            if e.team not in teams
        ]
    )
    counts = {"registered": 0, "transferred": 0, "unchanged": 0}
    async with db.transaction(conn):
        numbers = [e.case_number for e in entries]
        before = await store.lock_cases(conn, numbers)
        await store.upsert_cases(
            conn, numbers, [teams[e.team] for e in entries], actor.name, [e.amount for e in entries]
        )
        await store_controls.follow_cases(conn, numbers)
        records: list[tuple[Any, ...]] = []
        for e in entries:
            previous = before.get(e.case_number)
            if previous is not None and previous == e.team:
                counts["unchanged"] += 1
                if e.amount is not None:
                    records.append(
                        ("case.amount_set", actor.officer_id, actor.name, actor.team,
                         e.case_number, None, "amount_set", {"amount_to_enforce": str(e.amount)})
                    )  # fmt: skip
                continue
            detail: dict[str, Any] = {"team": e.team}
            if e.amount is not None:
                detail["amount_to_enforce"] = str(e.amount)
            outcome = "registered" if previous is None else "transferred"
            if previous is not None:
                detail["from_team"] = previous
            counts[outcome] += 1
            records.append(
                (
                    f"case.{outcome}",
                    actor.officer_id,
                    actor.name,
                    actor.team,
                    e.case_number,
                    None,
                    outcome,
                    detail,
                )
            )
        await store_audit.actions(conn, records)
    return counts


async def list_cases(
    conn: Connection, team: str | None, after: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    rows = await store.list_cases(conn, team, after, limit + 1)
    items = [
        {
            "case_number": r["case_number"],
            "team": r["team"],
            "registered_by": r["registered_by"],
            "registered_at": r["registered_at"].isoformat(),
            "updated_at": r["updated_at"].isoformat(),
        }
        for r in rows[:limit]
    ]
    return items, (rows[limit - 1]["case_number"] if len(rows) > limit else None)
