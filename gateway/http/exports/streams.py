"""A batch's results as lines (CSV for Excel, JSON Lines for programs) and its household
photos as a zip: each page of results encoded on its own, so they are sent as they are read.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gateway.core.jsonvalues import as_object
from gateway.http.exports.cells import csv_text
from gateway.http.exports.layout import STATUS_WORDS, summarise, titles
from gateway.http.models.batches import Result

#: Excel takes a UTF-8 CSV for its ANSI code page (GBK on a Chinese Windows) without one
BOM = "\ufeff".encode()
CSV_HEADERS = (
    "序号",
    "姓名/名称",
    "证件号码",
    "查询单位",
    "状态",
    "结果摘要",
    "错误信息",
    "尝试次数",
    "完成时间",
    "下次查询时间",
    "数据",
)


def without_photo_data(item: dict[str, Any]) -> dict[str, Any]:
    """A result without its photo's image: photos are large base64 blobs; a CSV keeps their
    hash, not the image."""
    data = as_object(item.get("data"))
    if item.get("agency") != "household" or data is None:
        return item
    photo = as_object(data.get("photo"))
    if photo is None or "data_base64" not in photo:
        return item
    kept = {k: v for k, v in photo.items() if k != "data_base64"}
    return {**item, "data": {**data, "photo": kept}}


def api_items(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items exactly as the JSON API shows them (its model's serialisation: times, nulls)."""
    return [Result.model_validate(item).model_dump(mode="json") for item in items]


def csv_head() -> bytes:
    return BOM + csv_lines_of([list(CSV_HEADERS)])


def csv_lines_of(rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180: quoted as needed, CRLF line ends (as Excel writes)
    writer.writerows([[csv_text(v) for v in row] for row in rows])
    return out.getvalue().encode("utf-8", "replace")


def csv_page(items: Iterable[dict[str, Any]], batch_status: str = "") -> bytes:
    """One CSV row per result: the person, the agency, its answer in words, and the record as
    JSON (without photo images)."""
    names = titles()
    rows: list[list[Any]] = []
    for item in api_items(without_photo_data(i) for i in items):
        subject, data = item["subject"], item["data"]
        rows.append(
            [
                subject["row"] + 1,
                subject["name"],
                subject["id_number"],
                names.get(item["agency"], item["agency"]),
                STATUS_WORDS.get(item["status"], item["status"]),
                summarise(item["agency"], item["status"], data, batch_status),
                item["error"],
                item["attempts"],
                item["completed_at"],
                item["next_attempt_at"],
                json.dumps(data, ensure_ascii=False) if data is not None else None,
            ]
        )
    return csv_lines_of(rows)


def jsonl_page(items: Iterable[dict[str, Any]]) -> bytes:
    """One JSON object per line, each as an item of the JSON API's results pages."""
    return "".join(
        json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n"
        for item in api_items(items)
    ).encode("utf-8", "replace")


def photo_name(row: int) -> str:
    """A photo's name in the zip: the person's 序号 (as on every sheet), zero-padded so the
    files sort in the list's order."""
    return f"{row + 1:06d}.png"


class PhotoZip:
    """The household ID photos of a batch, one PNG per person named by 序号. Stored, not
    deflated: PNG is compressed already. Blocking: call it from a thread."""

    def __init__(self, path: Path) -> None:
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED)
        self.count = 0

    def add(self, items: Iterable[dict[str, Any]]) -> None:
        for item in items:
            if item.get("agency") != "household" or item.get("status") != "found":
                continue
            photo = as_object((as_object(item.get("data")) or {}).get("photo")) or {}
            encoded = photo.get("data_base64")
            if not isinstance(encoded, str):
                continue
            try:
                raw = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                continue  # not base64: nothing that could be shown
            self._zip.writestr(photo_name(item["subject"]["row"]), raw)
            self.count += 1

    def close(self) -> None:
        self._zip.close()
