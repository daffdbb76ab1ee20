"""Debtor lists in from a workbook: the first worksheet, read as lists.py says (headings,
columns, rows). A damaged or hostile workbook is a 422, one that unpacks too large a 413.
(Results out: exports/.)

The worksheet is read by python-calamine in a child process held to a memory and time limit
(sheet_reader.py says why): a workbook that makes the reader fail, abort or run out of its
limits is unreadable, and the gateway never shares its fate.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

from gateway.core.errors import PayloadTooLarge
from gateway.http import sheet_reader
from gateway.http.lists import Columns, SheetRows, collect, problem

#: Excel's last row: a worksheet claiming rows beyond it is not one Excel wrote
EXCEL_MAX_ROWS = 1_048_576
UNREADABLE = "is not a readable .xlsx workbook"
#: wall-clock bound on the reader, beyond its own processor-time limit (a stalled child)
READ_TIMEOUT = 2 * sheet_reader.CPU_SECONDS
_READER = [sys.executable, "-m", "gateway.http.sheet_reader"]
#: what zipfile raises on a damaged archive (its directory is read here, to refuse zip bombs)
_UNREADABLE_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError)


def read_subjects(
    data: bytes | IO[bytes],
    field: str = "file",
    *,
    max_subjects: int | None = None,
    max_unpacked: int | None = None,
) -> SheetRows:
    """The subjects on the first worksheet. Reading stops after ``max_subjects`` + 1 rows
    (413, as for JSON); a workbook that unpacks to more than ``max_unpacked`` bytes is
    refused before it is parsed (413); a damaged one is 422. Blocks: run it in a thread."""
    file = io.BytesIO(data) if isinstance(data, bytes) else data
    _check_unpacked_size(file, field, max_unpacked)
    file.seek(0)
    lines = iter(_read_sheet(file, field).splitlines())
    try:
        start_row, start_column = json.loads(next(lines))["start"]
        rows = (json.loads(line) for line in lines)
        return _collect(rows, start_row, start_column, field, max_subjects)
    except (StopIteration, ValueError, KeyError, TypeError) as exc:
        raise problem(field, UNREADABLE) from exc


def _read_sheet(workbook: IO[bytes], field: str) -> bytes:
    """The reader's output for ``workbook``; 422 when it fails in any way. A file on disk
    (an upload) is handed to the reader as it is, never read into this process."""
    try:
        on_disk = workbook.fileno() >= 0
    except (OSError, AttributeError, io.UnsupportedOperation):
        on_disk = False
    try:
        done: subprocess.CompletedProcess[bytes] = subprocess.run(  # noqa: S603 (our module)
            _READER,
            stdin=workbook if on_disk else None,
            input=None if on_disk else workbook.read(),
            capture_output=True,
            timeout=READ_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise problem(field, UNREADABLE) from exc
    if done.returncode != 0:  # refused, aborted (-6), killed at its CPU limit (-9, -24)
        raise problem(field, UNREADABLE)
    return done.stdout


def _collect(
    rows: Iterator[list[Any]],
    start_row: int,
    start_column: int,
    field: str,
    max_subjects: int | None,
) -> SheetRows:
    # a used range that begins below row 1 has no headings in row 1
    header: list[Any] | None = [] if start_row > 0 else next(rows, None)
    if header is None:
        raise problem(field, "the first worksheet is empty")
    pad = [None] * start_column  # the used range may begin right of column A
    columns = Columns.find(pad + header, field)
    numbered = ((start_row + 1 + k, pad + row) for k, row in enumerate(rows, start=1))
    return collect(_numbered(numbered, field), columns, max_subjects)


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


def _numbered(
    rows: Iterable[tuple[int, Sequence[Any]]], field: str
) -> Iterator[tuple[int, Sequence[Any]]]:
    for number, row in rows:
        if number > EXCEL_MAX_ROWS:
            raise problem(field, UNREADABLE)
        yield number, row
