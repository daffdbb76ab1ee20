"""Checking a batch submission before anything is stored.

A batch with any bad row is refused whole: every problem is listed as
``{"row", "field", "problem"}`` (``row`` is the 0-based index into ``subjects``, or null for
a top-level field), and nothing is written. Problems never repeat the offending value, so
they can be logged and shown without exposing personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connectors.base import Subject
from connectors.registry import AGENCIES
from gateway.core.errors import PayloadTooLarge, ValidationFailed
from gateway.core.identifiers import (
    InvalidCaseNumber,
    InvalidIdentifier,
    classify_identifier,
    parse_case_number,
)
from gateway.core.text import NOT_ALLOWED, has_disallowed_characters

#: the longest list of problems returned; a batch of 100,000 bad rows needs no more to fix
MAX_PROBLEMS = 1000
MAX_NAME_LENGTH = 100
MAX_REASON_LENGTH = 2000
_FIELDS = frozenset({"case_number", "reason", "agencies", "subjects", "requery_reason"})


@dataclass(frozen=True, slots=True)
class BatchRequest:
    case_number: str
    reason: str
    agencies: tuple[str, ...]
    subjects: tuple[Subject, ...]
    #: why subjects are asked for again within the re-query window (gateway/rules.py)
    requery_reason: str | None = None

    def canonical(self) -> dict[str, Any]:
        """What the idempotency digest is taken over."""
        canonical = {
            "case_number": self.case_number,
            "reason": self.reason,
            "agencies": list(self.agencies),
            "subjects": [[s.name, s.id_number] for s in self.subjects],
        }
        if self.requery_reason is not None:  # absent: digests of older batches still match
            canonical["requery_reason"] = self.requery_reason
        return canonical


class _Problems:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.count = 0

    def add(self, row: int | None, field: str, problem: str) -> None:
        self.count += 1
        if len(self.items) < MAX_PROBLEMS:
            self.items.append({"row": row, "field": field, "problem": problem})


def parse_batch_request(body: Any, *, max_subjects: int) -> BatchRequest:
    if not isinstance(body, dict):
        raise ValidationFailed(
            [{"row": None, "field": "(body)", "problem": "must be a JSON object"}]
        )
    problems = _Problems()
    for key in sorted(set(body) - _FIELDS):
        problems.add(None, key, "is not a known field")

    case_number = _case_number(body.get("case_number"), problems)
    reason = _text(body.get("reason"), "reason", MAX_REASON_LENGTH, problems, None)
    requery_reason = None
    if body.get("requery_reason") is not None:
        requery_reason = _text(
            body["requery_reason"], "requery_reason", MAX_REASON_LENGTH, problems, None
        )
    agencies = _agencies(body.get("agencies"), problems)

    raw_subjects = body.get("subjects")
    subjects: list[Subject] = []
    if not isinstance(raw_subjects, list):
        problems.add(None, "subjects", "must be a list of {name, id_number}")
    elif not raw_subjects:
        problems.add(None, "subjects", "must not be empty")
    elif len(raw_subjects) > max_subjects:
        raise PayloadTooLarge(
            f"a batch may hold at most {max_subjects} subjects",
            field="subjects",
            limit=max_subjects,
        )
    else:
        subjects = _subjects(raw_subjects, problems)

    if problems.count:
        message = f"{problems.count} problem(s) found; nothing was stored"
        if problems.count > len(problems.items):
            message += f" (first {len(problems.items)} listed)"
        raise ValidationFailed(problems.items, message)
    assert case_number is not None and reason is not None
    return BatchRequest(case_number, reason, agencies, tuple(subjects), requery_reason)


def _case_number(value: Any, problems: _Problems) -> str | None:
    if not isinstance(value, str) or not value.strip():
        problems.add(None, "case_number", "is required (e.g. （2022）吉03执123号)")
        return None
    try:
        return parse_case_number(value).canonical
    except InvalidCaseNumber as exc:
        problems.add(None, "case_number", str(exc))
        return None


def _text(value: Any, field: str, limit: int, problems: _Problems, row: int | None) -> str | None:
    if not isinstance(value, str) or not value.strip():
        problems.add(row, field, "is required")
        return None
    value = value.strip()
    if len(value) > limit:
        problems.add(row, field, f"must be at most {limit} characters")
        return None
    if has_disallowed_characters(value):  # control/format characters, lone surrogates
        problems.add(row, field, NOT_ALLOWED)
        return None
    return value


def _agencies(value: Any, problems: _Problems) -> tuple[str, ...]:
    if value is None:
        return AGENCIES
    if not isinstance(value, list) or not value:
        problems.add(None, "agencies", "must be a non-empty list of agency names")
        return ()
    chosen: list[str] = []
    for item in value:
        if isinstance(item, str) and has_disallowed_characters(item):
            problems.add(None, "agencies", NOT_ALLOWED)
        elif not isinstance(item, str) or item not in AGENCIES:
            shown = item if isinstance(item, str) and len(item) <= 40 else "(value)"
            problems.add(
                None, "agencies", f"unknown agency {shown!r}; known: {', '.join(AGENCIES)}"
            )
        elif item not in chosen:
            chosen.append(item)
    # Keep the registry's order so a batch's inquiries are laid out the same way every time.
    return tuple(name for name in AGENCIES if name in chosen)


def _subjects(raw: Sequence[Any], problems: _Problems) -> list[Subject]:
    subjects: list[Subject] = []
    first_row: dict[str, int] = {}
    for row, item in enumerate(raw):
        if not isinstance(item, dict):
            problems.add(row, "(row)", "must be an object with name and id_number")
            continue
        for key in sorted(set(item) - {"name", "id_number"}):
            problems.add(row, key, "is not a known field")
        name = _text(item.get("name"), "name", MAX_NAME_LENGTH, problems, row)
        id_value = item.get("id_number")
        if not isinstance(id_value, str) or not id_value.strip():
            problems.add(row, "id_number", "is required")
            continue
        try:
            kind, id_number = classify_identifier(id_value)
        except InvalidIdentifier as exc:
            problems.add(row, "id_number", str(exc))
            continue
        if id_number in first_row:
            problems.add(row, "id_number", f"repeats row {first_row[id_number]}")
            continue
        first_row[id_number] = row
        if name is not None:
            subjects.append(Subject(name, id_number, kind))
    return subjects
