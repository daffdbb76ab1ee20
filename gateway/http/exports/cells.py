"""Cells an officer's spreadsheet program takes for data, never for a formula.

Names, addresses and error texts come from officers' lists and from agencies: untrusted. A
text such as ``=HYPERLINK(...)`` must reach the officer as that text, in the workbook and in a
CSV file opened in Excel alike.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: text starting with these is a formula (or the start of one) to Excel and its kin
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: column widths are in characters of the default font; a CJK character takes two
MIN_WIDTH, MAX_WIDTH = 6, 60


def clean_text(value: str) -> str:
    """Text a workbook may hold: openpyxl refuses control characters and the file must be
    UTF-8 (a lone surrogate is not); an agency may have sent either."""
    return ILLEGAL_CHARACTERS_RE.sub("", value).encode("utf-8", "replace").decode("utf-8")


def text_cell(sheet: Any, value: Any, number_format: str | None = None) -> Any:
    """Every string is written as text, never as a formula: a subject named
    ``=HYPERLINK(...)`` stays that text (marked as quoted, as Excel marks a leading ')."""
    if not isinstance(value, str):
        if number_format is None or value is None:
            return value
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = number_format
        return cell
    value = clean_text(value)
    if not value.startswith(FORMULA_START):
        return value  # openpyxl writes it as text
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"  # not "f": openpyxl takes a leading = for a formula
    cell.quotePrefix = True
    return cell


def csv_text(value: Any) -> str:
    """A CSV field Excel shows as the text it is: a leading ' keeps a formula-like text
    inert (Excel has no other marker in CSV; the ' is the OWASP-recommended one)."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def display_width(text: str) -> int:
    """Width of a text in columns of the default font: East Asian wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def column_width(header: str, sample: int) -> float:
    """A column wide enough for its header and a typical value (``sample`` characters wide),
    within bounds, plus a little padding."""
    return float(min(max(display_width(header), sample, MIN_WIDTH), MAX_WIDTH) + 2)


def write_text_sheet(title: str, rows: Iterable[Sequence[str]]) -> bytes:
    """A one-sheet .xlsx of text rows (a report): every cell text, never a formula."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    for row in rows:
        sheet.append([text_cell(sheet, value) for value in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
