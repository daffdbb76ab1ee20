"""Errors, pages and plain statuses: the shapes every resource shares."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.http.models.fields import Cursor, Limit


class ApiModel(BaseModel):
    """Base of the API's models: unknown request fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """One thing wrong with a request; never repeats the offending value."""

    row: int | None = Field(description="0-based index in the list (subjects), else null")
    field: str = Field(description="the field (or header, or query parameter) at fault")
    problem: str
    sheet_row: int | None = Field(
        default=None, description="uploads: the spreadsheet row the officer sees"
    )
    line: int | None = Field(default=None, description="CSV imports: the 1-based line")
    earlier_row: int | None = Field(
        default=None,
        description="the earlier row (0-based) this one clashes with: the same identifier "
        "under another name",
    )


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str = Field(description="machine-readable, e.g. validation_failed, intercepted")
    message: str
    problems: list[Problem] | None = None


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer: ``{"error": {"code", "message", ...}}``."""

    error: ErrorDetail


class Status(BaseModel):
    status: str
    database: str | None = None


class PageQuery(BaseModel):
    """A page: ``cursor`` from the previous page's ``next_cursor``, ``limit`` items."""

    model_config = ConfigDict(extra="ignore")

    cursor: Cursor | None = None
    limit: Limit | None = None


def page_of(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": next_cursor}
