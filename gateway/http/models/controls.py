"""Control actions (freeze, seal, seize), their decisions and terms; 终本 closures and a case's
history."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from gateway.http.models.common import ApiModel, PageQuery
from gateway.http.models.fields import AgencyName, Amount, BatchId, Note, Reason, WholeNumber

Action = Literal["seal", "seize", "freeze"]
ControlStatus = Literal[
    "pending_approval", "rejected", "sending", "in_effect", "queued_behind", "refused",
    "released", "expired",
]  # fmt: skip
#: what the agency identifies an asset by: certificate number, number plate, account
AssetId = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
TermDays = Field(default=None, ge=1, le=3660, description="days; default and maximum by kind")


class ControlRequestBody(ApiModel):
    batch_id: BatchId = Field(description="the batch whose result found the asset")
    row: WholeNumber = Field(ge=0, le=10_000_000, description="the subject's row in that batch")
    agency: AgencyName
    asset: str = AssetId
    action: Action = Field(description="seal 查封 (real estate, forest right, vehicle), seize "
                           "扣押 (vehicle), freeze 冻结 (subsidy account)")  # fmt: skip
    reason: Reason
    term_days: WholeNumber | None = TermDays
    amount: Amount | None = Field(default=None, description="yuan; a freeze only")


class ControlDecision(ApiModel):
    note: Note | None = None
    override_reason: Note | None = Field(
        default=None,
        description="required to approve a freeze past the case's amount to enforce",
    )


class RenewalBody(ApiModel):
    term_days: WholeNumber | None = TermDays


class Control(BaseModel):
    id: int
    case_number: str
    team: str
    batch_id: uuid.UUID
    row: int
    agency: str
    asset: str | None = Field(description="its identifier; null once the record was purged")
    action: Action
    amount: Decimal | None
    reason: str
    term_days: int
    status: ControlStatus
    sending: Literal["hold", "renew", "release"] | None = Field(
        description="an order on its way to the agency"
    )
    requested_by: str
    requested_at: datetime
    over_limit: bool
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    override_reason: str | None
    receipt_no: str | None = Field(description="the agency's receipt (回执号)")
    position: int | None = Field(description="place in line behind other courts (轮候)")
    effective_on: date | None
    expires_on: date | None = Field(description="the last day in effect")
    refusal: str | None
    renewals: int
    released_at: datetime | None


class ControlPage(BaseModel):
    items: list[Control]
    next_cursor: str | None


class ControlQuery(PageQuery):
    case_number: str | None = Field(default=None, max_length=64)
    status: ControlStatus | None = None
    expiring_within: int | None = Field(
        default=None, ge=0, le=3660, description="in effect and ending within so many days"
    )


class ClosureBody(ApiModel):
    closed_on: date | None = Field(default=None, description="default today")


class Closure(BaseModel):
    closed_on: date
    rounds_done: int
    rounds: int
    next_due_on: date | None
    reopened_at: datetime | None


class CaseEvent(BaseModel):
    at: datetime
    kind: str
    batch_id: uuid.UUID | None
    control_id: int | None
    detail: dict[str, Any]


class CaseHistory(BaseModel):
    case_number: str
    team: str
    amount_to_enforce: Decimal | None
    closure: Closure | None
    events: list[CaseEvent]
