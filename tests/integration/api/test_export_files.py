"""The result workbook as a file, without a gateway: every field a connector produces has its
column, memory stays flat however many people, photos beyond the limit are named instead of
embedded, and LibreOffice (Debian's, installed by the test set-up when missing) opens it."""

from __future__ import annotations

import base64
import dataclasses
import io
import subprocess
import tracemalloc
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from PIL import Image

from connectors.registry import connector_classes
from gateway.http.exports import layout, workbook
from tests.conftest import CASE
from tests.integration.api.test_exports import FORMULA, TITLES, rows
from tests.system_packages import require


def test_each_sheet_shows_every_field_the_connector_produces() -> None:
    for agency, cls in connector_classes().items():
        sheet = layout.SHEETS[agency]
        record: Any = cls.record_type
        if sheet.entries is not None:
            (record,) = typing.get_args(typing.get_type_hints(record)[sheet.entries])
        fields = {f.name for f in dataclasses.fields(record)}
        assert {c.field for c in sheet.columns} == fields, agency


def png(width: int = 48, height: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 80)).save(out, "PNG")
    return out.getvalue()


PHOTO = {"content_type": "image/png", "sha256": "", "data_base64": base64.b64encode(png()).decode()}
VEHICLE = {"plate": "吉C12345", "vehicle_type": "小型轿车", "brand_model": "一汽-大众 捷达"}
VEHICLE |= {"vin_last6": "123456", "registered_on": "2015-01-01", "status": "normal"}
BATCH = {"id": "b", "case_number": CASE, "status": "done", "agencies": ["household", "vehicle"]}


def synthetic(people: int) -> Iterator[list[dict[str, Any]]]:
    """Pages of 500 results for ``people`` people: identity with a photo, two vehicles."""
    page: list[dict[str, Any]] = []
    for row in range(people):
        subject = {"row": row, "name": f"张{row}", "id_number": f"22030219650412{row:04d}"}
        household = {"name": subject["name"], "sex": "male", "photo": PHOTO}
        for agency, data in (("household", household), ("vehicle", {"vehicles": [VEHICLE] * 2})):
            page.append({"subject": subject, "agency": agency, "status": "found", "data": data})
        if len(page) >= 500:
            yield page
            page = []
    yield page


def peak_writing(people: int, scratch: Path) -> int:
    scratch.mkdir()
    tracemalloc.start()
    try:
        book = workbook.ResultsWorkbook(BATCH, scratch)
        for page in synthetic(people):
            book.add(page)
        book.save(scratch / "out.xlsx")
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_writing_ten_times_the_people_takes_no_more_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Few embedded photos, so that both runs reach the limit and the rest are written as
    # text, as a batch of 100,000 would be.
    monkeypatch.setattr(workbook, "PHOTO_LIMIT", 20)
    peak_writing(10, tmp_path / "warm")  # imports and caches are allocated once, here
    small = peak_writing(200, tmp_path / "small")
    large = peak_writing(2_000, tmp_path / "large")
    # what grows with the people is written to disk: ten times as many take no more memory
    assert large < small * 1.5 and large < 8 * 2**20, (small, large)
    book = load_workbook(tmp_path / "large" / "out.xlsx", read_only=True)
    counted = {name: sum(1 for _ in book[name].iter_rows()) for name in ("汇总", TITLES["vehicle"])}
    assert counted == {"汇总": 2_001, TITLES["vehicle"]: 4_001}


def test_photos_beyond_the_limit_are_named_not_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workbook, "PHOTO_LIMIT", 2)
    items = [i for page in synthetic(4) for i in page]
    items[0]["data"] = {**items[0]["data"], "photo": {**PHOTO, "data_base64": "bm90IGEgUE5H"}}
    sheet = load_workbook(io.BytesIO(workbook.write_results(BATCH, items)))[TITLES["household"]]
    assert [r[-1] for r in rows(sheet)] == ["照片无法显示", None, None, workbook.PHOTO_NOT_EMBEDDED]
    assert sorted(image.anchor._from.row + 1 for image in sheet._images) == [3, 4]


@pytest.mark.timeout(900)  # LibreOffice may first have to be installed (tests/system_packages)
def test_libreoffice_opens_the_workbook(tmp_path: Path) -> None:
    soffice = require("soffice", "libreoffice-calc-nogui")
    items = [i for page in synthetic(5) for i in page]
    items[0]["subject"] = {**items[0]["subject"], "name": FORMULA}
    (tmp_path / "results.xlsx").write_bytes(workbook.write_results(BATCH, items))
    csv_utf8 = "csv:Text - txt - csv (StarCalc):44,34,76"  # comma, quote, UTF-8
    command = [soffice, "--headless", "--convert-to", csv_utf8, "--outdir", str(tmp_path)]
    converted = subprocess.run(
        [*command, str(tmp_path / "results.xlsx")],
        capture_output=True,
        timeout=120,
        check=False,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert converted.returncode == 0, converted.stderr
    summary = (tmp_path / "results.csv").read_text(encoding="utf-8").splitlines()
    # the first sheet, the formula-like name shown as the text it is, not evaluated
    assert summary[0].startswith("序号,姓名/名称,证件号码")
    assert FORMULA.replace('"', '""') in summary[1]
