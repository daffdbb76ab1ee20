"""Spreadsheets in and out: enforcement teams keep their debtor lists in Excel.

Reading: the first worksheet, a header row naming the name and identifier columns (Chinese or
English headings), one debtor per row below it; blank rows are skipped. Problems name the
spreadsheet row so the officer can find it. Writing: one row per result, in subject order,
with a short human summary of what the agency holds and the full record as JSON.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from gateway.errors import ValidationFailed

#: accepted headings (compared case-insensitively, spaces removed)
NAME_HEADINGS = frozenset({"姓名", "名称", "被执行人", "被执行人姓名", "name"})
ID_HEADINGS = frozenset(
    {"身份证号", "身份证号码", "公民身份号码", "证件号码", "统一社会信用代码", "id", "id_number"}
)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True, slots=True)
class SheetRows:
    """Subjects as the JSON API takes them, and the spreadsheet row of each."""

    subjects: list[dict[str, Any]]
    sheet_rows: list[int]


def _problem(field: str, problem: str, sheet_row: int | None = None) -> ValidationFailed:
    return ValidationFailed(
        [{"row": None, "field": field, "problem": problem, "sheet_row": sheet_row}],
        "the spreadsheet cannot be read; nothing was stored",
    )


def _heading(value: Any) -> str:
    return "".join(str(value or "").split()).lower()


#: Excel keeps 15 significant digits: an 18-character ID typed as a number is already corrupt
NUMERIC_ID = "is stored as a number, so Excel kept only 15 digits; format the column as text"


def _cell(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def read_subjects(data: bytes, field: str = "file") -> SheetRows:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise _problem(field, "is not a readable .xlsx workbook") from exc
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise _problem(field, "the first worksheet is empty")
        headings = [_heading(v) for v in header]
        name_col = next((i for i, h in enumerate(headings) if h in NAME_HEADINGS), None)
        id_col = next((i for i, h in enumerate(headings) if h in ID_HEADINGS), None)
        if name_col is None or id_col is None:
            raise _problem(
                field, "row 1 must name the columns, e.g. 姓名 and 身份证号 (or name, id_number)", 1
            )
        subjects: list[dict[str, Any]] = []
        sheet_rows: list[int] = []
        numeric: list[dict[str, Any]] = []
        for number, row in enumerate(rows, start=2):
            cells = list(row) + [None] * (max(name_col, id_col) + 1 - len(row))
            name, id_number = _cell(cells[name_col]), _cell(cells[id_col])
            if name in (None, "") and id_number in (None, ""):
                continue
            if isinstance(id_number, int | float):
                numeric.append(
                    {
                        "row": len(subjects),
                        "field": "id_number",
                        "problem": NUMERIC_ID,
                        "sheet_row": number,
                    }
                )
            subjects.append({"name": name, "id_number": id_number})
            sheet_rows.append(number)
    finally:
        workbook.close()
    if numeric:
        raise ValidationFailed(numeric, f"{len(numeric)} problem(s) found; nothing was stored")
    return SheetRows(subjects, sheet_rows)


def with_sheet_rows(error: ValidationFailed, rows: SheetRows) -> ValidationFailed:
    """The same problems, each also naming the spreadsheet row the officer sees."""
    for problem in error.problems:
        index = problem.get("row")
        problem["sheet_row"] = rows.sheet_rows[index] if index is not None else None
    return error


def summarise(agency: str, status: str, data: Any) -> str:
    """One line an officer can read without opening the JSON."""
    if status != "found" or not isinstance(data, dict):
        return {"not_found": "无记录", "failed": "查询失败"}.get(status, "")
    counts = {
        "realestate": ("properties", "处不动产"),
        "vehicle": ("vehicles", "辆车辆"),
        "forestry": ("certificates", "本林权证"),
        "subsidy": ("payments", "笔补贴"),
    }
    if agency in counts:
        key, unit = counts[agency]
        return f"{len(data.get(key) or [])}{unit}"
    if agency == "household":
        return f"{data.get('sex', '')} {data.get('birth_date', '')} {data.get('address', '')}"
    if agency == "police":
        return f"回执 {data.get('ack_number', '')} {data.get('status', '')}".strip()
    return "有记录"


COLUMNS = (
    "row",
    "name",
    "id_number",
    "agency",
    "status",
    "summary",
    "error",
    "attempts",
    "completed_at",
    "data",
)


def write_results(batch: dict[str, Any], items: Iterable[dict[str, Any]]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("results")
    sheet.append([f"{batch['case_number']}  batch {batch['id']}  {batch['status']}"])
    sheet.append(list(COLUMNS))
    for item in items:
        data = item["data"]
        # Photos are large base64 blobs; the spreadsheet keeps their hash, not the image.
        if item["agency"] == "household" and isinstance(data, dict) and "photo" in data:
            data = {**data, "photo": {k: v for k, v in data["photo"].items() if k != "data_base64"}}
        sheet.append(
            [
                item["subject"]["row"],
                item["subject"]["name"],
                item["subject"]["id_number"],
                item["agency"],
                item["status"],
                summarise(item["agency"], item["status"], item["data"]),
                item["error"],
                item["attempts"],
                item["completed_at"],
                json.dumps(data, ensure_ascii=False) if data is not None else None,
            ]
        )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
