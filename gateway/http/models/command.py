"""The command centre: risk alerts, decisions on held batches, statistics."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.http.models.common import ApiModel, PageQuery
from gateway.http.models.fields import BatchId, LocalTime, Note, QueryText

AlertKind = Literal[
    "off_hours", "volume_spike", "cross_team_subject", "control_expiring", "new_assets"
]


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


class HouseholdItemFigures(BaseModel):
    identity: int = Field(ge=0, description="people asked for their identity (身份信息)")
    photo: int = Field(ge=0, description="people asked for their ID photo (电子头像)")


class ReportFigures(BaseModel):
    """One agency's figures in the court's report (a figure it does not have is null)."""

    batches: int = Field(ge=0)
    people: int = Field(ge=0, description="distinct subjects")
    found: int = Field(ge=0, description="answers found (one per batch and subject)")
    assets: int | None = Field(
        ge=0,
        description="assets in the answers found: realestate properties, vehicles, forestry "
        "certificates, subsidy accounts (distinct accounts paid into); null for household "
        "and police",
    )
    detentions_assisted: int | None = Field(
        ge=0, description="police answers found (the station took the request); null elsewhere"
    )
    household_items: HouseholdItemFigures | None = Field(
        description="household: distinct people asked for each item; null elsewhere"
    )
    overdue: int = Field(ge=0, description="failed: no answer within the agency's deadline")


class AgencyFigures(ReportFigures):
    inquiries: int = Field(ge=0)
    not_found: int = Field(ge=0)
    failed: int = Field(ge=0)
    waiting: int = Field(ge=0, description="not answered yet (of batches under way)")
    late: int = Field(
        ge=0,
        description="not answered GATEWAY_WAITING_WARNING after submission (or approval, or "
        "a re-run)",
    )
    cancelled: int = Field(ge=0)
    completed_last_minute: int = Field(ge=0)
    completed_last_hour: int = Field(ge=0)


class TeamFigures(BaseModel):
    """What a team submitted in the window, whatever became of it (rejected and held batches
    included; the report's figures, ``by_team``, count only what went to the agencies)."""

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
    control_expiring: int = Field(ge=0)
    new_assets: int = Field(ge=0)


class TeamReport(BaseModel):
    team: str
    agencies: dict[str, ReportFigures]
    sentence: str = Field(description="the team's figures in the court's words")


class ControlFigures(BaseModel):
    in_effect: dict[Literal["seal", "seize", "freeze"], int] = Field(
        description="holds in effect now, by action (court-wide)"
    )
    took_effect: int = Field(ge=0, description="holds that took effect in the period")
    renewals: int = Field(ge=0, description="renewals (续行) that took effect in the period")
    releases: int = Field(ge=0, description="holds released (解除) in the period")
    sentence: str = Field(description="the same in the court's words")


class Statistics(BaseModel):
    since: datetime | None
    until: datetime | None
    agencies: dict[str, AgencyFigures] = Field(description="every team together")
    teams: list[TeamFigures]
    batches: BatchCounts
    alerts: AlertCounts
    by_team: list[TeamReport] = Field(
        description="the report's figures per team with batches in the window, by name"
    )
    controls: ControlFigures
    sentence: str = Field(
        description="the report in the court's words (Chinese), e.g. 户政信息查询198批次，"
        "查询458人电子头像信息和426人身份信息；不动产信息查询185批次，查询2059人不动产情况；……"
    )
