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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils.exceptions import InvalidFileException

from gateway.core.errors import PayloadTooLarge, ValidationFailed
from gateway.core.jsonvalues import as_object

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


#: Excel's last row: a worksheet claiming rows beyond it is not one Excel wrote
EXCEL_MAX_ROWS = 1_048_576
UNREADABLE = "is not a readable .xlsx workbook"
#: what a damaged or hostile workbook makes openpyxl, zipfile and the XML parser raise, at
#: load time or lazily while rows are read (SyntaxError covers xml.etree's ParseError)
_UNREADABLE_ERRORS = (
    InvalidFileException,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    SyntaxError,
    KeyError,
    IndexError,
    ValueError,
    TypeError,
    AttributeError,
    ArithmeticError,
    OSError,
    EOFError,
    RecursionError,
)


def read_subjects(
    data: bytes,
    field: str = "file",
    *,
    max_subjects: int | None = None,
    max_unpacked: int | None = None,
) -> SheetRows:
    """The subjects on the first worksheet. Reading stops after ``max_subjects`` + 1 rows
    (413, as for JSON); a workbook that unpacks to more than ``max_unpacked`` bytes is
    refused before it is parsed (413); a damaged one is 422. CPU-bound: run it in a thread."""
    _check_unpacked_size(data, field, max_unpacked)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except _UNREADABLE_ERRORS as exc:
        raise _problem(field, UNREADABLE) from exc
    try:
        rows = _read_rows(workbook, field, max_subjects)
    except _UNREADABLE_ERRORS as exc:
        raise _problem(field, UNREADABLE) from exc
    finally:
        workbook.close()
    return rows


def _check_unpacked_size(data: bytes, field: str, max_unpacked: int | None) -> None:
    """A zip bomb is refused from the sizes the archive declares (zipfile never inflates a
    part beyond its declared size: a part that lies fails its CRC check, a 422)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except _UNREADABLE_ERRORS as exc:
        raise _problem(field, UNREADABLE) from exc
    if max_unpacked is not None and unpacked > max_unpacked:
        raise PayloadTooLarge(
            f"the workbook unpacks to more than {max_unpacked} bytes",
            field=field,
            limit=max_unpacked,
        )


def _read_rows(workbook: Any, field: str, max_subjects: int | None) -> SheetRows:
    if not workbook.worksheets:  # e.g. the workbook names a sheet whose part is missing
        raise _problem(field, UNREADABLE)
    sheet = workbook.worksheets[0]
    header = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True), None)
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
    # Only the two columns are read: a sheet may claim 16,384 columns.
    width = max(name_col, id_col) + 1
    rows = sheet.iter_rows(min_row=2, max_col=width, values_only=True)
    for number, row in enumerate(rows, start=2):
        if number > EXCEL_MAX_ROWS:
            raise _problem(field, UNREADABLE)
        cells = list(row) + [None] * (width - len(row))
        name, id_number = _cell(cells[name_col]), _cell(cells[id_col])
        if name in (None, "") and id_number in (None, ""):
            continue
        if max_subjects is not None and len(subjects) >= max_subjects:
            raise PayloadTooLarge(
                f"a batch may hold at most {max_subjects} subjects",
                field="subjects",
                limit=max_subjects,
            )
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
    data = as_object(data)
    if status != "found" or data is None:
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
        if data.get("sex") is None:  # only the photo was asked for
            return "电子头像"
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


#: text starting with these is a formula (or the start of one) to Excel and its kin
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def without_photo_data(item: dict[str, Any]) -> dict[str, Any]:
    """A result without its photo's image: photos are large base64 blobs; the spreadsheet
    keeps their hash, not the image."""
    data = as_object(item.get("data"))
    if item.get("agency") != "household" or data is None:
        return item
    photo = as_object(data.get("photo"))
    if photo is None or "data_base64" not in photo:
        return item
    kept = {k: v for k, v in photo.items() if k != "data_base64"}
    return {**item, "data": {**data, "photo": kept}}


def _text_cell(sheet: Any, value: Any) -> Any:
    """Every string is written as text, never as a formula: a subject named
    ``=HYPERLINK(...)`` stays that text (marked as quoted, as Excel marks a leading ')."""
    if not isinstance(value, str):
        return value
    # openpyxl refuses control characters in cell text and the file must be UTF-8; an agency
    # may have sent either.
    value = ILLEGAL_CHARACTERS_RE.sub("", value).encode("utf-8", "replace").decode("utf-8")
    if not value.startswith(_FORMULA_START):
        return value  # openpyxl writes it as text
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"  # not "f": openpyxl takes a leading = for a formula
    cell.quotePrefix = True
    return cell


def write_text_sheet(title: str, rows: Iterable[Sequence[str]]) -> bytes:
    """A one-sheet .xlsx of text rows (a report): every cell text, never a formula."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    for row in rows:
        sheet.append([_text_cell(sheet, value) for value in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def write_results(batch: dict[str, Any], items: Iterable[dict[str, Any]]) -> bytes:
    """The results as an .xlsx workbook. CPU-bound: run it in a thread."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("results")

    def append(values: list[Any]) -> None:
        sheet.append([_text_cell(sheet, v) for v in values])

    append([f"{batch['case_number']}  batch {batch['id']}  {batch['status']}"])
    append(list(COLUMNS))
    for item in items:
        item = without_photo_data(item)
        data = item["data"]
        append(
            [
                item["subject"]["row"],
                item["subject"]["name"],
                item["subject"]["id_number"],
                item["agency"],
                item["status"],
                summarise(item["agency"], item["status"], data),
                item["error"],
                item["attempts"],
                item["completed_at"],
                json.dumps(data, ensure_ascii=False) if data is not None else None,
            ]
        )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
