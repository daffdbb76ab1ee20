"""The debtors on the first worksheet of a workbook on stdin, as JSON lines on stdout: run by
spreadsheets.py as a child process (``python -m gateway.http.sheet_reader SPEC``), never
imported by the gateway.

Why a child: python-calamine (Rust) reads a 100,000-row list in a third of openpyxl's time,
but it lays a worksheet out densely from its first to its last cell, so two cells at opposite
corners of a 2 kB file ask for 550 GB, and a failed allocation aborts the process
(tafia/calamine#693). Here that aborts only this child, held to ``MEMORY_LIMIT`` of address
space and ``CPU_SECONDS`` of processor time; the gateway then reads the file another way.

SPEC is JSON: ``{"headings": [names, ids, organisation names, credit codes], "max_rows": N}``
(each a list of accepted headings, compared without spaces and in lower case). Output: the
first line is the header row's cells under the first heading of each kind (null where there
is none), then each non-blank row under the header as ``[sheet row, its four cells]``, at
most ``max_rows`` of them. A cell is its text (at most ``MAX_CELL`` characters: no field of a
list is longer) or number; an empty cell is null; anything else (a date, a boolean, an error)
an object naming its kind, which validation refuses as not text. Exit status 2 when the
workbook cannot be read.
"""

from __future__ import annotations

import datetime
import io
import json
import resource
import sys
from collections.abc import Iterator, Sequence
from typing import Any

#: address space the reader may use: a 100,000-row list needs well under a tenth of it
MEMORY_LIMIT = 1024 * 1024 * 1024
CPU_SECONDS = 60
#: longer than any name or identifier a list may hold (the rules then refuse it as such)
MAX_CELL = 256
UNREADABLE = 2


def _cell(value: Any) -> Any:
    if value == "" or value is None:
        return None
    if isinstance(value, str):
        return value[:MAX_CELL]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, datetime.date | datetime.time | datetime.timedelta):
        return {"cell": "date"}
    return {"cell": type(value).__name__}


def _heading(value: Any) -> str:
    return "".join(str(value if value is not None else "").split()).lower()


def _columns(header: Sequence[Any], headings: Sequence[Sequence[str]]) -> list[int]:
    names = [_heading(v) for v in header]
    kinds = [frozenset(kind) for kind in headings]
    return [next((i for i, h in enumerate(names) if h in kind), -1) for kind in kinds]


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # it writes no file


def main(spec: dict[str, Any]) -> int:
    _limit()
    data = sys.stdin.buffer.read()
    from python_calamine import CalamineWorkbook  # after the limits: it allocates

    headings: list[list[str]] = spec["headings"]
    max_rows: int = spec["max_rows"]
    out = sys.stdout
    try:
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
        first_row = (sheet.start or (0, 0))[0]
        rows: Iterator[list[Any]] = iter(sheet.iter_rows())
        # a used range that begins below row 1 has no headings in row 1
        nothing: list[Any] = []
        header = next(rows, nothing) if first_row == 0 else nothing
        below_header = first_row + (2 if first_row == 0 else 1)  # the next row's number
        columns = _columns(header, headings)

        def pick(row: Sequence[Any]) -> list[Any]:
            return [_cell(row[i]) if 0 <= i < len(row) else None for i in columns]

        out.write(json.dumps(pick(header), ensure_ascii=False) + "\n")
        written = 0
        for number, row in enumerate(rows, start=below_header):
            cells = pick(row)
            if all(c is None for c in cells):
                continue
            if written == max_rows:
                break
            out.write(json.dumps([number, *cells], ensure_ascii=False) + "\n")
            written += 1
    except Exception as exc:  # whatever the reader raises, the file is unreadable
        sys.stderr.write(f"unreadable: {type(exc).__name__}\n")
        return UNREADABLE
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
