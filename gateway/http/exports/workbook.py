"""A batch's results as an .xlsx workbook, written as the results are read.

Sheets: 汇总 (one row per person, what each agency found in a few words), one sheet per agency
(one row per asset, the person's 序号, name and ID repeated on each so any sheet can be
filtered by person; household ID photos embedded beside the person), and 批次信息 (the case,
the batch and the counts per agency). Every cell is a value, never a formula; dates are ISO
text as the agencies' records hold them; amounts and areas are numbers.

openpyxl's write-only mode streams each sheet's rows to a file of its own, so memory stays
flat however many people the batch holds; only embedded photos are kept until the workbook is
saved (openpyxl writes the drawing at the end), hence ``PHOTO_LIMIT``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.drawing.image import Image
from openpyxl.utils import get_column_letter

from gateway.core.assets import ASSET_LISTS, assets_found
from gateway.core.jsonvalues import as_object
from gateway.http.exports.cells import column_width, text_cell
from gateway.http.exports.layout import (
    BATCH_STATUS,
    PERSON_HEADERS,
    PERSON_WIDTHS,
    SHEETS,
    STATUS_WORDS,
    ordered,
    summarise,
    titles,
)

#: photos embedded in one workbook: openpyxl keeps every embedded image (about 8 kB of
#: bookkeeping each, beside the file on disk) until the workbook is saved, so a batch of
#: 100,000 people with photos would not stay in bounded memory. Beyond this many, the
#: household sheet says so and the photos come as a zip (format=photos).
PHOTO_LIMIT = 2000
#: embedded photos are scaled to this height (about a 1-inch ID photo on screen)
PHOTO_HEIGHT_PX = 80
PHOTO_HEADER = "电子头像"
PHOTO_NOT_EMBEDDED = f"未嵌入：照片超过{PHOTO_LIMIT}张，请另行下载照片包"
PHOTO_UNREADABLE = "照片无法显示"
#: statuses counted per agency on the 批次信息 sheet, in its column order
COUNTED = ("found", "not_found", "failed", "waiting", "pending", "cancelled")


class _Sheet:
    """A write-only sheet with a frozen header row and the person's columns frozen too."""

    def __init__(
        self, book: Any, title: str, headers: Sequence[str], widths: Sequence[float]
    ) -> None:
        self.sheet: Any = book.create_sheet(title)
        self.headers = list(headers)
        self.formats: list[str | None] = [None] * len(headers)
        for index, width in enumerate(widths, start=1):
            self.sheet.column_dimensions[get_column_letter(index)].width = width
        self.sheet.freeze_panes = "D2"  # header and 序号/姓名/证件号码 stay in view
        self.rows = 0
        self.append(headers)

    def append(self, values: Sequence[Any], height_pt: float | None = None) -> int:
        """Append a row; its 1-based row number."""
        self.rows += 1
        if height_pt is not None:
            # Row heights must be set before the row is written (it is written at once).
            self.sheet.row_dimensions[self.rows].height = height_pt
        formats = self.formats
        self.sheet.append(
            [
                text_cell(self.sheet, v, formats[i] if i < len(formats) else None)
                for i, v in enumerate(values)
            ]
        )
        return self.rows

    def filter_all(self) -> None:
        """An autofilter over every row written (known only at the end)."""
        last = get_column_letter(len(self.headers))
        self.sheet.auto_filter.ref = f"A1:{last}{max(self.rows, 1)}"


class ResultsWorkbook:
    """Feed it a batch's items in subject order, page by page (``add``), then ``save``.

    Items are the accountability layer's ``export_page`` items (``results_page``'s, with
    ``pending`` and ``cancelled``). CPU-bound and blocking: call it from a thread. Photos are
    written into ``scratch`` (a directory the caller removes) until the workbook is saved.
    """

    def __init__(self, batch: dict[str, Any], scratch: Path, zone: tzinfo | None = None) -> None:
        self._batch = batch
        self._scratch = scratch
        #: the court's time zone, for the times officers read (None: as the API gives them)
        self._zone = zone
        self._book: Any = Workbook(write_only=True)
        self._agencies = ordered(list(batch["agencies"]))
        names = titles()
        heads = [names.get(a, a) for a in self._agencies]
        self._summary = _Sheet(
            self._book,
            "汇总",
            [*PERSON_HEADERS, *heads],
            [column_width(h, w) for h, w in zip(PERSON_HEADERS, PERSON_WIDTHS, strict=True)]
            + [column_width(h, 16) for h in heads],
        )
        self._sheets: dict[str, _Sheet] = {}
        for agency in self._agencies:
            layout = SHEETS.get(agency)
            if layout is None:
                continue  # an agency without a layout is summarised only
            headers = [*PERSON_HEADERS, *(c.header for c in layout.columns)]
            widths = [
                column_width(h, w) for h, w in zip(PERSON_HEADERS, PERSON_WIDTHS, strict=True)
            ]
            widths += [column_width(c.header, c.width) for c in layout.columns]
            if agency == "household":
                headers.append(PHOTO_HEADER)
                widths.append(PHOTO_HEIGHT_PX / 7 + 2)  # a column is about 7 px a character
            sheet = _Sheet(self._book, names.get(agency, agency), headers, widths)
            sheet.formats = [None] * len(PERSON_HEADERS) + [c.number_format for c in layout.columns]
            self._sheets[agency] = sheet
        # Created now so it comes last; written at the end, when the counts are known.
        self._info: Any = self._book.create_sheet("批次信息")
        self._counts: dict[str, Counter[str]] = {a: Counter() for a in self._agencies}
        self._assets: Counter[str] = Counter()
        self._photos = 0
        self._person: tuple[int, str, str] | None = None
        self._answers: dict[str, dict[str, Any]] = {}

    def add(self, items: Iterable[dict[str, Any]]) -> None:
        """The next items, in subject order; a person's items may span two pages."""
        for item in items:
            subject = item["subject"]
            if self._person is None or self._person[0] != subject["row"]:
                self._flush()
                self._person = (subject["row"], subject["name"], subject["id_number"])
            self._answers[item["agency"]] = item

    def save(self, path: Path) -> None:
        """Write the last person, the batch's sheet and the autofilters, then the file."""
        self._flush()
        self._write_info()
        self._summary.filter_all()
        for sheet in self._sheets.values():
            sheet.filter_all()
        self._book.save(path)

    def discard(self) -> None:
        """Give up (the export failed): openpyxl removes its sheets' temporary files, which
        hold personal data, only when a workbook is saved; so save it where it is thrown away.
        Best effort: the failure that led here is the one to report."""
        with contextlib.suppress(Exception):
            self._book.save(self._scratch / "discarded.xlsx")

    def _flush(self) -> None:
        if self._person is None:
            return
        row, name, id_number = self._person
        person = [row + 1, name, id_number]
        status = self._batch["status"]
        words: list[str] = []
        for agency in self._agencies:
            item = self._answers.get(agency)
            if item is None:  # no inquiry at all: the batch never asked this agency about them
                words.append("")
                continue
            words.append(summarise(agency, item["status"], item["data"], status))
            self._counts[agency][item["status"]] += 1
            data = as_object(item["data"])
            if item["status"] == "found" and data is not None:
                self._assets[agency] += assets_found(agency, data) or 0
                self._write_assets(agency, person, data)
        self._summary.append([*person, *words])
        self._person, self._answers = None, {}

    def _write_assets(self, agency: str, person: list[Any], data: dict[str, Any]) -> None:
        sheet, layout = self._sheets.get(agency), SHEETS.get(agency)
        if sheet is None or layout is None:
            return
        for values in layout.rows(data):
            if agency == "household":
                self._write_household(sheet, person, values, data)
            else:
                sheet.append([*person, *values])

    def _write_household(
        self, sheet: _Sheet, person: list[Any], values: list[Any], data: dict[str, Any]
    ) -> None:
        photo = as_object(data.get("photo")) or {}
        encoded = photo.get("data_base64")
        if not isinstance(encoded, str):
            sheet.append([*person, *values, ""])
            return
        if self._photos >= PHOTO_LIMIT:
            sheet.append([*person, *values, PHOTO_NOT_EMBEDDED])
            return
        image = self._image(encoded)
        if image is None:
            sheet.append([*person, *values, PHOTO_UNREADABLE])
            return
        # Points are 3/4 of a pixel; a little room above and below the photo.
        row = sheet.append([*person, *values, None], height_pt=image.height * 0.75 + 6)
        sheet.sheet.add_image(image, f"{get_column_letter(len(sheet.headers))}{row}")

    def _image(self, encoded: str) -> Any:
        """The photo as an openpyxl image read from a file (openpyxl reads it again only when
        saving, so memory holds its path, not its bytes), or None if it is not an image."""
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return None
        self._photos += 1
        path = self._scratch / f"photo-{self._photos}.png"
        path.write_bytes(raw)
        try:
            image: Any = Image(str(path))
        except Exception:
            # An agency's image is untrusted: whatever Pillow makes of it, the person's row
            # is written, without the photo.
            path.unlink()
            self._photos -= 1
            return None
        width, height = int(image.width), int(image.height)
        if width <= 0 or height <= 0:
            return None  # Pillow reads no such PNG; kept from dividing by zero all the same
        image.height = PHOTO_HEIGHT_PX
        image.width = max(1, round(width * PHOTO_HEIGHT_PX / height))
        return image

    def _write_info(self) -> None:
        batch, sheet = self._batch, self._info
        sheet.column_dimensions["A"].width = 14
        for column in "BCDEFGH":
            sheet.column_dimensions[column].width = 12
        sheet.column_dimensions["B"].width = 40
        names = titles()
        rows: list[list[Any]] = [
            ["案号", batch.get("case_number")],
            ["批次编号", str(batch.get("id", ""))],
            ["批次状态", BATCH_STATUS.get(batch["status"], batch["status"])],
            ["经办人", batch.get("officer")],
            ["办案团队", batch.get("team")],
            ["提交时间", self._local(batch.get("created_at"))],
            ["完成时间", self._local(batch.get("finished_at"))],
            ["被查询人数", batch.get("subject_count")],
            [],
            ["查询单位", *(STATUS_WORDS[s] for s in COUNTED), "财产数"],
        ]
        for agency in self._agencies:
            counts = self._counts[agency]
            assets = self._assets[agency] if agency in ASSET_LISTS else None
            rows.append([names.get(agency, agency), *(counts[s] for s in COUNTED), assets])
        for row in rows:
            sheet.append([text_cell(sheet, v) for v in row])

    def _local(self, stamp: object) -> object:
        """An ISO time as the court reads it: its own zone, to the second, the offset named."""
        if self._zone is None or not isinstance(stamp, str):
            return stamp
        return datetime.fromisoformat(stamp).astimezone(self._zone).strftime("%Y-%m-%d %H:%M:%S %z")


def write_results(batch: dict[str, Any], items: Iterable[dict[str, Any]]) -> bytes:
    """The whole workbook as bytes, for a list of items at hand (the CLI, tests); the API
    streams pages through ``ResultsWorkbook`` instead."""
    scratch = Path(tempfile.mkdtemp(prefix="gateway-export-"))
    try:
        book = ResultsWorkbook(batch, scratch)
        book.add(items)
        path = scratch / "results.xlsx"
        book.save(path)
        return path.read_bytes()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
