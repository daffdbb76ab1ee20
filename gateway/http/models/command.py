"""The command centre: risk alerts, decisions on held batches, statistics."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.http.models.common import ApiModel, PageQuery
from gateway.http.models.fields import BatchId, LocalTime, Note, QueryText

AlertKind = Literal["off_hours", "volume_spike", "cross_team_subject"]


class AlertQuery(PageQuery):
    kind: AlertKind | None = None
    team: QueryText | None = None
    officer: QueryText | None = None
    batch_id: BatchId | None = None
    since: LocalTime | None = Field(default=None, description="ISO date or time (local)")
    until: LocalTime | None = Field(default=None, description="exclusive")


class Alert(BaseModel):
    id: int
    at: datetime
    kind: AlertKind
    officer: str
    team: str
    batch_id: uuid.UUID | None
    subject_digest: str | None = Field(
        description="keyed hash of the subject's ID (hex); never the ID itself"
    )
    detail: dict[str, Any]


class AlertPage(BaseModel):
    items: list[Alert]
    next_cursor: str | None


class Decision(ApiModel):
    note: Note | None = None


class StatsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    since: LocalTime | None = Field(default=None, description="ISO date or time (local)")
    until: LocalTime | None = Field(default=None, description="exclusive")


class AgencyFigures(BaseModel):
    batches: int = Field(ge=0)
    people: int = Field(ge=0, description="distinct subjects")
    inquiries: int = Field(ge=0)
    found: int = Field(ge=0)
    not_found: int = Field(ge=0)
    failed: int = Field(ge=0)
    waiting: int = Field(ge=0, description="not answered yet")
    late: int = Field(ge=0, description="not answered GATEWAY_WAITING_WARNING after submission")
    overdue: int = Field(ge=0, description="failed: no answer within the agency's deadline")
    cancelled: int = Field(ge=0)
    completed_last_minute: int = Field(ge=0)
    completed_last_hour: int = Field(ge=0)


class TeamFigures(BaseModel):
    team: str
    batches: int = Field(ge=0)
    subjects: int = Field(ge=0)
    officers: int = Field(ge=0)


class BatchCounts(BaseModel):
    pending_approval: int = Field(ge=0)
    queued: int = Field(ge=0)
    running: int = Field(ge=0)
    done: int = Field(ge=0)
    cancelled: int = Field(ge=0)
    rejected: int = Field(ge=0)


class AlertCounts(BaseModel):
    off_hours: int = Field(ge=0)
    volume_spike: int = Field(ge=0)
    cross_team_subject: int = Field(ge=0)


class Statistics(BaseModel):
    since: datetime | None
    until: datetime | None
    agencies: dict[str, AgencyFigures]
    teams: list[TeamFigures]
    batches: BatchCounts
    alerts: AlertCounts
