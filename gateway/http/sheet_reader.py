"""The first worksheet of a workbook on stdin, as JSON lines on stdout: run by spreadsheets.py as
a child process (``python -m gateway.http.sheet_reader``), never imported by the gateway.

Why a child: python-calamine (Rust) reads a 100,000-row list in a tenth of openpyxl's time, but
it lays a worksheet out densely from its first to its last cell, so two cells at opposite
corners of a 2 kB file ask for 550 GB, and a failed allocation aborts the process
(tafia/calamine#693). Here that aborts only this child, held to ``MEMORY_LIMIT`` of address
space and ``CPU_SECONDS`` of processor time; the gateway answers 422.

Output: one line ``{"start": [row, column]}`` (0-based: where the sheet's used range begins),
then each row of that range as a JSON array of its first ``MAX_COLUMNS`` cells, trailing
empty cells dropped. A cell is its text or number; an empty cell is null; anything else (a
date, a time, a boolean, an error) is an object naming its kind, which validation refuses
as not text. Exit status 2 with one line on stderr when the workbook cannot be read.
"""

from __future__ import annotations

import datetime
import io
import json
import resource
import sys
from typing import Any

#: address space the reader may use: a 100,000-row list needs well under a tenth of it
MEMORY_LIMIT = 1024 * 1024 * 1024
CPU_SECONDS = 60
#: a list's headings are within its first columns; a sheet may claim 16,384
MAX_COLUMNS = 64
UNREADABLE = 2


def _cell(value: Any) -> Any:
    if value == "" or value is None:
        return None
    if isinstance(value, str) or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    if isinstance(value, datetime.date | datetime.time | datetime.timedelta):
        return {"cell": "date"}
    return {"cell": type(value).__name__}


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # it writes no file


def main() -> int:
    _limit()
    data = sys.stdin.buffer.read()
    from python_calamine import CalamineWorkbook  # after the limits: it allocates

    out = sys.stdout
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        if not workbook.sheet_names:
            raise ValueError("no worksheet")
        sheet = workbook.get_sheet_by_index(0)
        start = sheet.start
        out.write(json.dumps({"start": list(start) if start else [0, 0]}) + "\n")
        for row in sheet.iter_rows():
            cells = [_cell(v) for v in row[:MAX_COLUMNS]]
            while cells and cells[-1] is None:
                cells.pop()
            out.write(json.dumps(cells, ensure_ascii=False) + "\n")
    except Exception as exc:
        sys.stderr.write(f"unreadable: {type(exc).__name__}\n")
        return UNREADABLE
    return 0


if __name__ == "__main__":
    sys.exit(main())
