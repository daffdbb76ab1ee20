"""Debtor lists in from a workbook: the first worksheet, read as lists.py says (headings,
columns, rows). A damaged or hostile workbook is a 422, one that unpacks too large a 413.
(Results out: exports/.)
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from gateway.core.errors import PayloadTooLarge
from gateway.http.lists import Columns, SheetRows, collect, problem

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
    data: bytes | IO[bytes],
    field: str = "file",
    *,
    max_subjects: int | None = None,
    max_unpacked: int | None = None,
) -> SheetRows:
    """The subjects on the first worksheet. Reading stops after ``max_subjects`` + 1 rows
    (413, as for JSON); a workbook that unpacks to more than ``max_unpacked`` bytes is
    refused before it is parsed (413); a damaged one is 422. CPU-bound: run it in a thread."""
    file = io.BytesIO(data) if isinstance(data, bytes) else data
    _check_unpacked_size(file, field, max_unpacked)
    file.seek(0)
    try:
        workbook = load_workbook(file, read_only=True, data_only=True)
    except _UNREADABLE_ERRORS as exc:
        raise problem(field, UNREADABLE) from exc
    try:
        rows = _read_rows(workbook, field, max_subjects)
    except _UNREADABLE_ERRORS as exc:
        raise problem(field, UNREADABLE) from exc
    finally:
        workbook.close()
    return rows


def _check_unpacked_size(file: IO[bytes], field: str, max_unpacked: int | None) -> None:
    """A zip bomb is refused from the sizes the archive declares (zipfile never inflates a
    part beyond its declared size: a part that lies fails its CRC check, a 422)."""
    try:
        with zipfile.ZipFile(file) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except _UNREADABLE_ERRORS as exc:
        raise problem(field, UNREADABLE) from exc
    if max_unpacked is not None and unpacked > max_unpacked:
        raise PayloadTooLarge(
            f"the workbook unpacks to more than {max_unpacked} bytes",
            field=field,
            limit=max_unpacked,
        )


def _read_rows(workbook: Any, field: str, max_subjects: int | None) -> SheetRows:
    if not workbook.worksheets:  # e.g. the workbook names a sheet whose part is missing
        raise problem(field, UNREADABLE)
    sheet = workbook.worksheets[0]
    header = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True), None)
    if header is None:
        raise problem(field, "the first worksheet is empty")
    columns = Columns.find(header, field)
    # Only the named columns are read: a sheet may claim 16,384 columns.
    rows = sheet.iter_rows(min_row=2, max_col=columns.width, values_only=True)
    return collect(_numbered(rows, field), columns, max_subjects)


def _numbered(rows: Iterable[Sequence[Any]], field: str) -> Iterator[tuple[int, Sequence[Any]]]:
    for number, row in enumerate(rows, start=2):
        if number > EXCEL_MAX_ROWS:
            raise problem(field, UNREADABLE)
        yield number, row
