"""The results query: a page of JSON, or the whole batch as a file."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.http.models.common import PageQuery

ExportFormat = Literal["xlsx", "csv", "jsonl", "photos"]


class ResultsQuery(PageQuery):
    """A page of results (``cursor``, ``limit``), or with ``format`` every result as a file."""

    format: ExportFormat | None = Field(
        default=None,
        description="the whole batch as a file instead of a page: xlsx (a summary sheet and "
        "one sheet per agency, photos embedded), csv (UTF-8 with BOM, one row per result), "
        "jsonl (one result per line, as this page's items) or photos (a zip of the household "
        "ID photos named by 序号); cursor and limit are then ignored",
    )
