"""Controls as they are read: what control actions depend on (``ControlPolicy``), one
control or a page of them as the API shows them, each with its asset's identifier found
again in its sealed record (a purged record shows none)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from gateway.accountability.alerts import zone
from gateway.accountability.auth import Caller
from gateway.core.assets import asset_identifiers
from gateway.core.control_settings import TermKind
from gateway.core.errors import NotFound
from gateway.core.metrics import Metrics
from gateway.core.settings import Settings
from gateway.store import controls as store
from gateway.store import db
from gateway.store.crypto import DataCipher, result_context
from gateway.store.db import Connection, Pool, Record


def term_kind(agency: str, action: str) -> TermKind:
    if action == "freeze":
        return "funds"
    return "movables" if agency == "vehicle" else "property"


@dataclass(frozen=True, slots=True)
class ControlPolicy:
    """What control actions depend on, passed explicitly (tests inject the clock)."""

    settings: Settings
    cipher: DataCipher
    metrics: Metrics
    clock: Callable[[], datetime]

    def today(self) -> date:
        """The date in the courts' time zone: terms and orders are dated by it."""
        return self.clock().astimezone(zone(self.settings)).date()


def _team_of(caller: Caller) -> int | None:
    return caller.team_id if caller.role == "officer" else None


async def get_control(
    policy: ControlPolicy, pool: Pool, caller: Caller, control_id: int
) -> dict[str, Any]:
    async with db.connection(pool) as conn:
        row = await store.get(conn, control_id, _team_of(caller))
        if row is None:
            raise NotFound("no such control")
        assets = await _assets(policy, conn, [row])
    return control_json(row, assets.get(row["id"]))


async def list_controls(
    policy: ControlPolicy,
    pool: Pool,
    caller: Caller,
    *,
    case_number: str | None,
    status: str | None,
    expiring_within: int | None,
    after: int | None,
    limit: int,
) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first: an officer's team's, or (a commander) every team's."""
    by = (
        None
        if expiring_within is None
        else date.fromordinal(policy.today().toordinal() + expiring_within)
    )
    async with db.connection(pool) as conn:
        rows = await store.page(
            conn, team_id=_team_of(caller), case_number=case_number, status=status,
            expiring_by=by, after=after, limit=limit + 1,
        )  # fmt: skip
        assets = await _assets(policy, conn, rows[:limit])
    items = [control_json(r, assets.get(r["id"])) for r in rows[:limit]]
    return items, (rows[limit - 1]["id"] if len(rows) > limit else None)


async def _assets(policy: ControlPolicy, conn: Connection, rows: list[Record]) -> dict[int, str]:
    """Each control's asset identifier, found again in its sealed record by its digest (a
    purged record shows none)."""
    sealed = await store.records(conn, [r["inquiry_id"] for r in rows])
    found: dict[int, str] = {}
    for r in rows:
        data = sealed.get(r["inquiry_id"])
        if data is None:
            continue
        record = policy.cipher.open_json(data, result_context(r["inquiry_id"]))
        for identifier in asset_identifiers(r["agency"], record):
            if store.asset_digest(policy.cipher, r["agency"], identifier) == r["asset_digest"]:
                found[r["id"]] = identifier
                break
    return found


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def control_json(row: Record, asset: str | None) -> dict[str, Any]:
    return {
        "id": row["id"],
        "case_number": row["case_number"],
        "team": row["team"],
        "batch_id": str(row["batch_id"]),
        "row": row["row"],
        "agency": row["agency"],
        "asset": asset,
        "action": row["action"],
        "amount": None if row["amount"] is None else str(row["amount"]),
        "reason": row["reason"],
        "term_days": row["term_days"],
        "status": row["status"],
        "sending": row["sending"],
        "requested_by": row["requested_by_name"],
        "requested_at": _time(row["requested_at"]),
        "over_limit": row["over_limit"],
        "decided_by": row["decided_by_name"],
        "decided_at": _time(row["decided_at"]),
        "decision_note": row["decision_note"],
        "override_reason": row["override_reason"],
        "receipt_no": row["receipt_no"],
        "position": row["position"],
        "effective_on": _day(row["effective_on"]),
        "expires_on": _day(row["expires_on"]),
        "refusal": row["refusal"],
        "renewals": row["renewals"],
        "released_at": _time(row["released_at"]),
    }
