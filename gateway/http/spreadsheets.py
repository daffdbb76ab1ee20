"""Debtor lists in from a workbook: the first worksheet, read as lists.py says (headings,
columns, rows). A damaged or hostile workbook is a 422, one that unpacks too large a 413.
(Results out: exports/.)

The worksheet is read by python-calamine in a child process held to a memory and time limit
(sheet_reader.py says why), which hands back only the four columns a list may name and at most
one row more than a batch may hold. A child that dies of its memory limit (a sheet whose
cells lie far apart: calamine lays them out densely) leaves the file to openpyxl here, which
reads only the named columns, row by row; any other failure is a 422.
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Generator, Iterable, Iterator, Sequence
from typing import IO, Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from gateway.core.errors import PayloadTooLarge
from gateway.http import sheet_reader
from gateway.http.lists import (
    ID_HEADINGS,
    NAME_HEADINGS,
    ORG_CODE_HEADINGS,
    ORG_NAME_HEADINGS,
    Columns,
    SheetRows,
    collect,
    problem,
)

#: Excel's last row: a worksheet claiming rows beyond it is not one Excel wrote
EXCEL_MAX_ROWS = 1_048_576
UNREADABLE = "is not a readable .xlsx workbook"
TOO_MUCH_TEXT = "holds far more text than a list of names and identifiers"
#: wall-clock bound on the reader, beyond its own processor-time limit (a stalled child)
READ_TIMEOUT = 2 * sheet_reader.CPU_SECONDS
#: the reader's output per row at most: a row's four cells are far shorter
MAX_OUTPUT_PER_ROW = 512
#: readers at once (each may take a core and its memory limit); more uploads wait their turn
_READERS = threading.BoundedSemaphore(2)
_READER = [sys.executable, "-m", "gateway.http.sheet_reader"]
_HEADINGS = [
    sorted(kind) for kind in (NAME_HEADINGS, ID_HEADINGS, ORG_NAME_HEADINGS, ORG_CODE_HEADINGS)
]
#: what a damaged or hostile workbook makes zipfile, openpyxl and the XML parser raise, at
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
    refused before it is parsed (413); a damaged one is 422. Blocks: run it in a thread."""
    file = io.BytesIO(data) if isinstance(data, bytes) else data
    _check_unpacked_size(file, field, max_unpacked)
    file.seek(0)
    output = _read_in_child(file, field, max_subjects)
    if output is None:  # the reader ran out of memory: the slow way, in bounded memory
        file.seek(0)
        return _read_with_openpyxl(file, field, max_subjects)
    lines = output.splitlines()
    try:
        header = json.loads(lines[0])
        rows = ((row[0], row[1:]) for row in map(json.loads, lines[1:]))
        return collect(_numbered(rows, field), Columns.find(header, field), max_subjects)
    except (IndexError, ValueError, TypeError) as exc:
        raise problem(field, UNREADABLE) from exc


def _read_in_child(file: IO[bytes], field: str, max_subjects: int | None) -> bytes | None:
    """The reader's output; None when it died of its memory limit; 422 for anything else."""
    max_rows = (max_subjects if max_subjects is not None else EXCEL_MAX_ROWS) + 1
    spec = json.dumps({"headings": _HEADINGS, "max_rows": max_rows})
    cap = (max_rows + 1) * MAX_OUTPUT_PER_ROW
    with _READERS, _on_disk(file) as stdin:
        child = subprocess.Popen(  # noqa: S603 (our own module, run by this interpreter)
            [*_READER, spec], stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        timer = threading.Timer(READ_TIMEOUT, child.kill)
        timer.start()
        try:
            output = _bounded(child, cap)
            status = child.wait()
        finally:
            timer.cancel()
            if child.poll() is None:
                child.kill()
                child.wait()
    if output is None:
        raise problem(field, TOO_MUCH_TEXT)
    if status == -signal.SIGABRT:  # calamine's failed allocation (tafia/calamine#693)
        return None
    if status != 0:  # unreadable (2), or killed: out of time
        raise problem(field, UNREADABLE)
    return output


def _bounded(child: subprocess.Popen[bytes], cap: int) -> bytes | None:
    """All the child writes, or None (and the child killed) past ``cap`` bytes."""
    assert child.stdout is not None
    chunks: list[bytes] = []
    size = 0
    with child.stdout:
        while chunk := child.stdout.read(1 << 16):
            size += len(chunk)
            if size > cap:
                child.kill()
                return None
            chunks.append(chunk)
    return b"".join(chunks)


@contextlib.contextmanager
def _on_disk(file: IO[bytes]) -> Generator[IO[bytes]]:
    """The workbook as a file the child can read from (an upload already is one)."""
    try:
        file.fileno()
    except (OSError, AttributeError, io.UnsupportedOperation):
        with tempfile.TemporaryFile() as copy:
            copy.write(file.read())
            copy.seek(0)
            yield copy
        return
    yield file


def _read_with_openpyxl(file: IO[bytes], field: str, max_subjects: int | None) -> SheetRows:
    try:
        workbook = load_workbook(file, read_only=True, data_only=True)
    except _UNREADABLE_ERRORS as exc:
        raise problem(field, UNREADABLE) from exc
    try:
        if not workbook.worksheets:  # e.g. the workbook names a sheet whose part is missing
            raise problem(field, UNREADABLE)
        sheet = workbook.worksheets[0]
        header = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True), None)
        if header is None:
            raise problem(field, "the first worksheet is empty")
        columns = Columns.find(header, field)
        # Only the named columns are read: a sheet may claim 16,384 columns.
        rows = sheet.iter_rows(min_row=2, max_col=columns.width, values_only=True)
        return collect(_numbered(enumerate(rows, start=2), field), columns, max_subjects)
    except _UNREADABLE_ERRORS as exc:
        raise problem(field, UNREADABLE) from exc
    finally:
        workbook.close()


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
