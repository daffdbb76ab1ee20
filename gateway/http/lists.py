"""Debtor lists as officers keep them: a header row, then one debtor per row, read from a CSV
file or the first worksheet of a workbook (spreadsheets.py) into what the JSON API takes.

Headings in Chinese or English, in any column order; other columns are ignored. A person's
row has a name (姓名, 被执行人, name) and a resident ID (身份证号, 公民身份号码, 证件号码,
id_number); an organisation's has 单位名称 and 统一社会信用代码; one list may hold both.
Blank rows are skipped. Every problem names the row as the sheet shows it (``sheet_row``).

CSV comes as Chinese Excel saves it: UTF-8 with or without a byte-order mark, or GB18030
(a superset of GBK and GB2312), separated by commas (or tabs or semicolons, as the header
row shows). The file is read as a stream, never held whole.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, cast

from gateway.core.errors import PayloadTooLarge, RequestError, ValidationFailed
from gateway.http.intake import name_clash

#: accepted headings (compared case-insensitively, spaces removed)
NAME_HEADINGS = frozenset({"姓名", "被执行人", "被执行人姓名", "被执行人名称", "名称", "name"})
ID_HEADINGS = frozenset(
    {"身份证号", "身份证号码", "公民身份号码", "证件号码", "证件号", "id_number", "id_no"}
)
ORG_NAME_HEADINGS = frozenset({"单位名称", "企业名称", "organisation", "organization"})
ORG_CODE_HEADINGS = frozenset({"统一社会信用代码", "信用代码", "credit_code"})
NO_HEADINGS = "row 1 must name the columns, e.g. 姓名 and 身份证号 (or name, id_number)"
#: Excel keeps 15 significant digits: an 18-character ID typed as a number is already corrupt
NUMERIC_ID = "is stored as a number, so Excel kept only 15 digits; format the column as text"
NOT_CSV = "is not a CSV file in UTF-8 or GB18030"


@dataclass(frozen=True, slots=True)
class SheetRows:
    """Subjects as the JSON API takes them, and the spreadsheet row of each."""

    subjects: list[dict[str, Any]]
    sheet_rows: list[int]
    #: rows whose identifier Excel stored as a number (already corrupt): refused, with the
    #: list's other problems (uploads.py)
    numeric: list[int] = field(default_factory=list[int])

    def numeric_problems(self) -> list[dict[str, Any]]:
        return [{"row": k, "field": "id_number", "problem": NUMERIC_ID} for k in self.numeric]


def problem(field: str, text: str, sheet_row: int | None = None) -> ValidationFailed:
    return ValidationFailed(
        [{"row": None, "field": field, "problem": text, "sheet_row": sheet_row}],
        "the list cannot be read; nothing was stored",
    )


def _heading(value: Any) -> str:
    return "".join(str(value or "").split()).lower()


@dataclass(frozen=True, slots=True)
class Columns:
    """Where the name and identifier are, for persons and for organisations (-1: absent)."""

    name: int
    id_number: int
    org_name: int
    org_code: int

    @property
    def width(self) -> int:
        return max(self.name, self.id_number, self.org_name, self.org_code) + 1

    @classmethod
    def find(cls, header: Sequence[Any], field: str) -> Columns:
        headings = [_heading(v) for v in header]

        def first(names: frozenset[str]) -> int:
            return next((i for i, h in enumerate(headings) if h in names), -1)

        found = cls(
            first(NAME_HEADINGS),
            first(ID_HEADINGS),
            first(ORG_NAME_HEADINGS),
            first(ORG_CODE_HEADINGS),
        )
        person = found.name >= 0 and found.id_number >= 0
        organisation = found.org_name >= 0 and found.org_code >= 0
        if not (person or organisation):
            raise problem(field, NO_HEADINGS, 1)
        return found

    def pick(self, cells: Sequence[Any]) -> tuple[Any, Any]:
        """(name, identifier) of a row: the person's columns, or else the organisation's."""

        name, number = _cell(cells, self.name), _cell(cells, self.id_number)
        if (name is None or name == "") and (number is None or number == ""):
            name, number = _cell(cells, self.org_name), _cell(cells, self.org_code)
        return name, number


def _cell(cells: Sequence[Any], index: int) -> Any:
    value = cells[index] if 0 <= index < len(cells) else None
    return value.strip() if isinstance(value, str) else value


def collect(
    rows: Iterable[tuple[int, Sequence[Any]]], columns: Columns, max_subjects: int | None
) -> SheetRows:
    """The subjects of numbered rows (the header excluded). 413 past ``max_subjects``; an
    identifier stored as a number is noted (the API would see digits already lost)."""
    subjects: list[dict[str, Any]] = []
    sheet_rows: list[int] = []
    numeric: list[int] = []
    pick = columns.pick
    name_at, id_at = columns.name, columns.id_number
    for number, cells in rows:
        # the usual row, inline (100,000 rows): a person's name and identifier, both text
        if 0 <= name_at < len(cells) and 0 <= id_at < len(cells):
            name, id_number = cells[name_at], cells[id_at]
            if type(name) is str and type(id_number) is str and (name := name.strip()):
                id_number = id_number.strip()
            else:
                name, id_number = pick(cells)
        else:
            name, id_number = pick(cells)
        if (name is None or name == "") and (id_number is None or id_number == ""):
            continue
        if max_subjects is not None and len(subjects) >= max_subjects:
            raise PayloadTooLarge(
                f"a batch may hold at most {max_subjects} subjects",
                field="subjects",
                limit=max_subjects,
            )
        if isinstance(id_number, int | float):
            numeric.append(len(subjects))
        subjects.append({"name": name, "id_number": id_number})
        sheet_rows.append(number)
    return SheetRows(subjects, sheet_rows, numeric)


def with_intercepted_sheet_rows(error: RequestError, rows: SheetRows) -> RequestError:
    """A rule's refusal that names subjects (``rows``: their places in the list) names them
    also as the sheet shows them, in ``sheet_rows``."""
    positions: object = error.details.get("rows")
    if isinstance(positions, list):
        named = cast(list[object], positions)
        error.details["sheet_rows"] = [rows.sheet_rows[i] for i in named if isinstance(i, int)]
    return error


def with_sheet_rows(error: ValidationFailed, rows: SheetRows) -> ValidationFailed:
    """The same problems, each also naming the spreadsheet row the officer sees (and a row
    a problem refers to, as the sheet shows it)."""
    for item in error.problems:
        index = item.get("row")
        item["sheet_row"] = rows.sheet_rows[index] if index is not None else None
        earlier = item.get("earlier_row")
        if isinstance(earlier, int) and isinstance(index, int):
            item.update(name_clash(index, earlier, rows.sheet_rows[earlier]))
    return error


# ---------------------------------------------------------------- CSV


def read_csv(file: IO[bytes], field: str = "file", *, max_subjects: int | None) -> SheetRows:
    """The subjects of a CSV file, read as a stream. UTF-8 (with or without BOM) is tried
    first, as it cannot be mistaken: GB18030 decodes any bytes at all. CPU-bound: run it in
    a thread."""
    start = file.read(3)
    file.seek(0)
    encodings = ["utf-8-sig"] if start == codecs.BOM_UTF8 else ["utf-8", "gb18030"]
    for encoding in encodings:
        try:
            return _read_csv_as(file, encoding, field, max_subjects)
        except UnicodeDecodeError:
            file.seek(0)
    raise problem(field, NOT_CSV)


def _read_csv_as(file: IO[bytes], encoding: str, field: str, max_subjects: int | None) -> SheetRows:
    text = io.TextIOWrapper(file, encoding=encoding, newline="")
    try:
        first = text.readline()
        dialect = _dialect(first)
        try:  # a field longer than csv's limit (128 kB) is an error, in the header too
            header = next(csv.reader([first], dialect), None)
            if not header:
                raise problem(field, "the file is empty")
            columns = Columns.find(header, field)
            return collect(_numbered(csv.reader(text, dialect), columns), columns, max_subjects)
        except csv.Error as exc:
            raise problem(field, NOT_CSV) from exc
    finally:
        text.detach()  # the caller's file stays open, for another encoding


def _numbered(reader: Iterator[list[str]], columns: Columns) -> Iterator[tuple[int, list[str]]]:
    # csv.reader's line_num counts physical lines (a quoted field may span several); the
    # sheet's row number counts records, as Excel shows them.
    # only the named columns are kept: a row may be very wide
    width = columns.width
    for number, row in enumerate(reader, start=2):
        yield number, row[:width]


class _Dialect(csv.excel):
    pass


def _dialect(header_line: str) -> type[csv.Dialect]:
    """Commas, unless the header row is plainly separated by tabs or semicolons."""
    counts = {sep: header_line.count(sep) for sep in (",", "\t", ";")}
    separator = max(counts, key=lambda sep: counts[sep])
    if counts[separator] == 0:
        separator = ","

    class Chosen(_Dialect):
        delimiter = separator

    return Chosen
