"""The synthetic population, one import for mocks, tests, demo and benchmarks.

``record(agency, id_number, kind)`` is what the agency holds about the subject, in the agency's
own vocabulary (``mocks.records``), exactly as its stand-in serves it. ``truth(agency,
id_number, kind)`` is what the gateway must make of it: the agency's connector's
``Found(record).to_json()``, or ``None`` when it answers ``NotFound``, computed by the
independent translation in ``mocks.truth`` (never by connector code). Police ack numbers depend
on the case (they are stable per case and person), so the police truth needs ``case_number``:
pass the requester's case number.
"""

from __future__ import annotations

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
from mocks.truth import expected

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


def record(agency: str, id_number: str, kind: Kind = "person") -> Any:
    """The agency's own record for the subject, as its stand-in serves it; None or empty when it
    holds nothing: household ``data``, realestate ``properties``, vehicle ``vehicles``, forestry
    certificates (element name -> text), subsidy listings by township, police status."""
    if agency == "household":
        return people.household(id_number, kind)
    if agency == "realestate":
        return assets.realestate(id_number, kind)
    if agency == "vehicle":
        return assets.vehicles(id_number, kind)
    if agency == "forestry":
        return assets.forestry(id_number, kind)
    if agency == "subsidy":
        return assets.subsidy(id_number, kind)
    if agency == "police":
        return people.police(id_number, kind)
    raise ValueError(f"unknown agency {agency!r}")


def truth(
    agency: str,
    id_number: str,
    kind: Kind = "person",
    *,
    case_number: str | None = None,
    items: tuple[str, ...] = (),
) -> dict[str, Any] | None:
    """Exactly ``Found.to_json()`` of the connector's answer; None means ``NotFound``.
    ``items``: the household parts asked for (empty: all)."""
    return expected(agency, id_number, kind, case_number=case_number, items=items)
