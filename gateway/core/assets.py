"""Assets found in an agency's record: the one number the statistics need from it, counted
when the result is recorded (``results.assets``), because the record is stored sealed and the
command centre's figures must never open personal data.

- ``realestate``: properties (不动产, 处), every property in the record;
- ``vehicle``: vehicles registered (车辆, 辆), whatever their status;
- ``forestry``: forest-right certificates (林权证, 本);
- ``subsidy``: accounts paid into (惠农一卡通账户, 个): the distinct ``account`` numbers among
  the payments, since an account, not a payment, is what a court freezes. A farmer paid
  several subsidies over several years into one card has one account.

Household (identity, photo) and police (whereabouts, detention assistance) hold no assets:
None. A police result found is a detention assisted, counted from its status alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.controls import ASSET_FIELDS
from gateway.core.jsonvalues import as_list, as_object

#: agency -> the list in its record whose entries are the assets
ASSET_LISTS: Mapping[str, str] = {
    "realestate": "properties",
    "vehicle": "vehicles",
    "forestry": "certificates",
    "subsidy": "payments",
}


def assets_found(agency: str, data: Any) -> int | None:
    """The assets in a found record (``Found.to_json()``), or None for an agency without any
    or a record that is not there."""
    record = as_object(data)
    if record is None or agency not in ASSET_LISTS:
        return None
    entries = as_list(record.get(ASSET_LISTS[agency])) or []
    if agency == "subsidy":
        accounts = {(as_object(p) or {}).get("account") for p in entries}
        return len(accounts - {None})
    return len(entries)


def _by_asset(agency: str, data: Any) -> dict[str, list[dict[str, Any]]]:
    """The entries of a found record naming each asset a control may act on, by the asset's
    identifier (where ``ASSET_FIELDS`` says), in the record's order."""
    record = as_object(data)
    if record is None or agency not in ASSET_FIELDS:
        return {}
    listed, field = ASSET_FIELDS[agency]
    grouped: dict[str, list[dict[str, Any]]] = {}
    for entry in as_list(record.get(listed)) or []:
        item = as_object(entry) or {}
        value = item.get(field)
        if isinstance(value, str) and value:
            grouped.setdefault(value, []).append(item)
    return grouped


def asset_identifiers(agency: str, data: Any) -> list[str]:
    """The identifiers of the assets in a found record, in its order, each once (a subsidy
    account paid several times is one account)."""
    return list(_by_asset(agency, data))


def _described(agency: str, entries: list[dict[str, Any]]) -> str:
    first = entries[0]
    if agency == "realestate":
        return f"{first.get('address', '')} {first.get('area_m2', '')}㎡ {first.get('use', '')}"
    if agency == "vehicle":
        return f"{first.get('vehicle_type', '')} {first.get('brand_model', '')}"
    if agency == "forestry":
        return (
            f"{first.get('location', '')} {first.get('area_mu', '')}亩 {first.get('species', '')}"
        )
    paid = sum(float(e.get("amount") or 0) for e in entries)
    return f"{first.get('bank', '')} 已发放 {paid:.2f} 元（{len(entries)} 笔）"


def assets_described(agency: str, data: Any) -> list[tuple[str, str]]:
    """(identifier, a few words) of each asset in a found record, for an officer choosing
    what to hold: where a property lies, which vehicle, what a subsidy account received."""
    return [
        (identifier, _described(agency, entries).strip())
        for identifier, entries in _by_asset(agency, data).items()
    ]
