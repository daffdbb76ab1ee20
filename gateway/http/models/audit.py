"""The audit log, for auditors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema

from gateway.core.identifiers import InvalidCaseNumber, parse_case_number
from gateway.http.models.fields import (
    BatchId,
    Cursor,
    IdNumber,
    Limit,
    QueryText,
    case_number_pattern,
    checked_time,
    problem,
)


def _case(value: Any) -> str:
    try:
        return parse_case_number(value).canonical  # stored canonical, so match canonical
    except InvalidCaseNumber as exc:
        raise problem(exc.problem) from None


def _offset_time(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise problem("must be an ISO 8601 date-time, e.g. 2024-05-01T09:00:00+08:00")
    if moment.tzinfo is None:
        raise problem("must include a UTC offset, e.g. 2024-05-01T09:00:00+08:00")
    try:
        # e.g. 0001-01-01T00:00+01:00 is before year 1 in UTC
        return checked_time(moment).astimezone(UTC)
    except ValueError as exc:
        raise problem(str(exc)) from None


CaseFilter = Annotated[
    str,
    PlainValidator(_case),
    WithJsonSchema({"type": "string", "pattern": case_number_pattern()}, mode="validation"),
]
OffsetTime = Annotated[
    datetime,
    PlainValidator(_offset_time),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="validation"),
]

HEX = r"^[0-9a-f]{64}$"


class AuditQuery(BaseModel):
    """Filters, each optional; an unknown parameter is refused (it could hold an ID)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    officer: QueryText | None = Field(default=None, description="officer name (login)")
    team: QueryText | None = Field(default=None, description="team name")
    case: CaseFilter | None = Field(default=None, description="enforcement case number")
    subject: IdNumber | None = Field(
        default=None, description="resident ID or credit code; matched by keyed digest"
    )
    batch: BatchId | None = Field(default=None, description="batch id")
    from_: OffsetTime | None = Field(default=None, alias="from", description="at or after")
    to: OffsetTime | None = Field(default=None, description="before this time")
    cursor: Cursor | None = None
    limit: Limit | None = None


class AuditRecord(BaseModel):
    seq: int = Field(ge=1)
    id: int
    at: datetime
    action: str
    officer: str | None
    team: str | None
    case_number: str | None
    batch_id: uuid.UUID | None
    row: int | None
    agency: str | None
    outcome: str | None
    detail: Any = Field(description="JSON detail of the event, or null")
    hash: str = Field(pattern=HEX)
    prev_hash: str = Field(pattern=HEX)


class AuditPage(BaseModel):
    items: list[AuditRecord]
    next_cursor: str | None


class AuditHead(BaseModel):
    seq: int = Field(ge=-1)
    hash: str
    at: datetime
    export: str = Field(description="SEQ:HASH, for an outside party to keep")


class AuditBreak(BaseModel):
    seq: int | None
    id: int | None
    reason: Literal[
        "altered", "link_broken", "missing", "out_of_order", "head_mismatch", "rewritten"
    ]
    message: str


class AuditVerification(BaseModel):
    ok: bool
    checked: int = Field(ge=0)
    head: AuditHead
    first_broken: AuditBreak | None
