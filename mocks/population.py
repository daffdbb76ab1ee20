"""The synthetic population, one import for mocks, tests, demo and benchmarks.

``truth(agency, id_number, kind)`` is exactly what the agency's connector returns as
``Found(record).to_json()`` for that subject, or ``None`` when it answers ``NotFound``.
Police ack numbers depend on the case (they are stable per case and person), so the police
truth needs ``case_number``: pass the requester's case number.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from mocks import assets, people
from mocks.people import (
    Kind,
    is_organisation_code,
    is_person_id,
    kind_of,
    photo_png,
    photo_ref,
    police_ack,
    sample_ids,
    subject_name,
)

__all__ = [
    "Kind",
    "is_organisation_code",
    "is_person_id",
    "kind_of",
    "photo_png",
    "photo_ref",
    "police_ack",
    "record",
    "sample_ids",
    "subject_name",
    "truth",
]

_BUILDERS: dict[str, Callable[[str, Kind], Any]] = {
    "household": people.household,
    "realestate": assets.realestate,
    "vehicle": assets.vehicles,
    "forestry": assets.forestry,
    "subsidy": assets.subsidy,
}


def record(
    agency: str, id_number: str, kind: Kind = "person", *, case_number: str | None = None
) -> Any:
    """The connector record the agency holds for this subject, or None."""
    if agency == "police":
        if case_number is None:
            raise ValueError("police truth needs case_number: the ack number depends on it")
        return people.police(id_number, kind, case_number)
    if agency not in _BUILDERS:
        raise ValueError(f"unknown agency {agency!r}")
    return _BUILDERS[agency](id_number, kind)


def truth(
    agency: str, id_number: str, kind: Kind = "person", *, case_number: str | None = None
) -> dict[str, Any] | None:
    """Exactly ``Found.to_json()`` of the connector's answer; None means ``NotFound``."""
    found = record(agency, id_number, kind, case_number=case_number)
    return None if found is None else dataclasses.asdict(found)
