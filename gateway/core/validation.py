"""A batch submission once it has been checked (``gateway.http.models.batches`` checks it):
canonical case number and identifiers, agencies in registry order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.base import Subject
from connectors.household import ITEMS as HOUSEHOLD_ITEMS


@dataclass(frozen=True, slots=True)
class BatchRequest:
    case_number: str
    reason: str
    agencies: tuple[str, ...]
    subjects: tuple[Subject, ...]
    #: why subjects are asked for again within the re-query window (gateway/rules.py)
    requery_reason: str | None = None
    #: the household registry's parts asked for ("identity", "photo"), in canonical order
    household_items: tuple[str, ...] = HOUSEHOLD_ITEMS
    #: rows that repeated an earlier row (same identifier, same name), dropped: asked once
    merged_rows: int = 0
    #: each subject's 0-based row in the list as submitted (kept after merging, so results
    #: and refusals name the officer's own rows); None: 0, 1, 2, ... (nothing was merged)
    rows: tuple[int, ...] | None = None

    def row_numbers(self) -> tuple[int, ...]:
        return self.rows if self.rows is not None else tuple(range(len(self.subjects)))

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
        if self.household_items != HOUSEHOLD_ITEMS:  # both, the default: as before
            canonical["household_items"] = list(self.household_items)
        return canonical
