"""Batches: the submission, the batch with its progress, results."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal, cast

from pydantic import BaseModel, Field
from pydantic_core import PydanticCustomError

from connectors.base import Subject
from connectors.household import ITEMS
from gateway.core.identifiers import InvalidIdentifier, classify_identifier
from gateway.core.validation import BatchRequest
from gateway.http.models.common import ApiModel
from gateway.http.models.fields import (
    AgencyName,
    CaseNumberField,
    HouseholdItem,
    IdNumber,
    Name,
    Reason,
    checked_name,
)

BatchStatus = Literal["pending_approval", "queued", "running", "done", "cancelled", "rejected"]
ResultStatus = Literal["found", "not_found", "failed", "waiting"]


class SubjectIn(ApiModel):
    """One judgment debtor: a person or an organisation."""

    name: Name
    id_number: IdNumber


class _SubmissionFields(ApiModel):
    """Everything of a submission but its subjects."""

    case_number: CaseNumberField
    reason: Reason
    requery_reason: Reason | None = Field(
        default=None,
        description="required when a subject was already queried by the team within "
        "GATEWAY_REQUERY_DAYS; otherwise the batch is intercepted",
    )
    agencies: list[AgencyName] | None = Field(
        default=None, min_length=1, description="default: all agencies"
    )
    household_items: list[HouseholdItem] | None = Field(
        default=None,
        min_length=1,
        description="what the household registry is asked for: identity (身份信息), photo "
        "(电子头像); default both. Photo only still looks the identity up (the photo number "
        "comes with it) but keeps none of it",
    )

    def request_of(self, subjects: tuple[Subject, ...]) -> BatchRequest:
        from connectors.registry import AGENCIES

        chosen = set(self.agencies) if self.agencies is not None else set(AGENCIES)
        items = set(self.household_items) if self.household_items is not None else set(ITEMS)
        return BatchRequest(
            case_number=self.case_number,
            reason=self.reason,
            # The registry's order, so a batch's inquiries are laid out the same way every time.
            agencies=tuple(name for name in AGENCIES if name in chosen),
            subjects=subjects,
            requery_reason=self.requery_reason,
            household_items=tuple(item for item in ITEMS if item in items),
        )


class BatchSubmission(_SubmissionFields):
    """A batch of judgment debtors for one filed case."""

    subjects: list[SubjectIn] = Field(min_length=1)

    def to_request(self) -> BatchRequest:
        return self.request_of(
            tuple(Subject(s.name, s.id_number.canonical, s.id_number.kind) for s in self.subjects)
        )


class SubmissionEnvelope(_SubmissionFields):
    """A submission whose subjects are checked row by row, by ``checked_subjects``: as
    ``BatchSubmission`` checks them, several times faster than a model per row (a list may
    hold 100,000). Not documented: the API is ``BatchSubmission``."""

    subjects: list[Any] = Field(min_length=1)


def checked_subjects(rows: list[Any]) -> tuple[Subject, ...] | None:
    """The subjects, when every row is an object of exactly a name and an identifier that
    ``SubjectIn`` accepts; None at the first that is not (validate with ``BatchSubmission``
    then: it names every problem)."""
    subjects: list[Subject] = []
    append = subjects.append
    today = date.today()  # once, not for each of 100,000 birth dates
    try:
        for row in rows:
            if type(row) is not dict:  # exactly a JSON object (a subclass might lie)
                return None
            fields = cast(dict[str, Any], row)
            if len(fields) != 2:
                return None
            name, number = fields.get("name"), fields.get("id_number")
            if type(name) is not str or type(number) is not str:
                return None
            # as checked_identifier checks it, without the model's wrapping (a fifth of the time)
            kind, identifier = classify_identifier(number, today=today)
            append(Subject(checked_name(name), identifier, kind))
    except (PydanticCustomError, InvalidIdentifier):
        return None
    return tuple(subjects)


class Progress(BaseModel):
    total: int = Field(ge=0)
    done: int = Field(ge=0)
    found: int = Field(ge=0)
    not_found: int = Field(ge=0)
    failed: int = Field(ge=0)
    waiting: int = Field(ge=0, description="not answered yet after a failed attempt")


class BatchSummary(BaseModel):
    id: uuid.UUID
    case_number: str
    reason: str
    agencies: list[str]
    household_items: list[str] = Field(description="what the household registry is asked for")
    status: BatchStatus
    officer: str
    team: str
    subject_count: int
    merged_rows: int = Field(
        ge=0,
        description="rows of the list that repeated an earlier row (the same identifier and "
        "name): asked once, not counted in subject_count",
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    purged_at: datetime | None = Field(
        default=None,
        description="when its names, identifiers and agency records were purged after the "
        "retention period (GATEWAY_RETENTION_DAYS); its results are then gone (410)",
    )


class Batch(BatchSummary):
    """A batch and its progress per agency."""

    progress: dict[str, Progress]


class BatchPage(BaseModel):
    items: list[BatchSummary]
    next_cursor: str | None


class SubjectOut(BaseModel):
    row: int
    name: str
    id_number: str


class Result(BaseModel):
    """One agency's answer about one subject, or (``waiting``) the last failed attempt of an
    inquiry that will be asked again until the agency's answer deadline."""

    subject: SubjectOut
    agency: str
    status: ResultStatus
    data: dict[str, Any] | None = Field(description="the agency's record; see the README")
    error: str | None = Field(description="why it failed, or (waiting) the last failure")
    attempts: int = Field(ge=0)
    completed_at: datetime | None = Field(description="null while waiting")
    next_attempt_at: datetime | None = Field(
        default=None, description="waiting: when it is asked again (at the earliest)"
    )


class ResultPage(BaseModel):
    items: list[Result]
    next_cursor: str | None


class Rerun(BaseModel):
    requeued: dict[str, int] = Field(description="inquiries queued again, per agency")
    batch: Batch
