"""Control actions (控制): an officer asks to freeze, seal or seize an asset a result found; a
commander other than the asker approves or rejects; approved, the order goes to the agency
through the outbox (``gateway.worker.control_sender``), exactly once in effect; the officer
renews it before its term ends or releases it when the case ends.

- ``seal`` (查封): real estate, a forest right, a vehicle; ``seize`` (扣押): a vehicle;
  ``freeze`` (冻结): a subsidy account, with an amount.
- Terms: at most the longest term for the asset's kind (``core.control_settings``); a
  renewal may not exceed it either, and must be asked on or before the hold's last day.
- Over-freeze (超标的冻结): when a freeze takes the case's frozen total past its registered
  amount to enforce (or the case has none registered), a commander must give an override
  reason to approve it.

Every step is audited and written to the case's history; no step's record holds personal
data (the asset is named by its control's id; its identifier stays in the sealed record).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from connectors.controls import CONTROL_ACTIONS
from gateway.accountability.auth import Caller
from gateway.accountability.control_records import ControlPolicy, get_control, term_kind
from gateway.core.assets import asset_identifiers
from gateway.core.errors import (
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    TransactionConflict,
    ValidationFailed,
)
from gateway.store import audit as store_audit
from gateway.store import controls as store
from gateway.store import db
from gateway.store.crypto import result_context
from gateway.store.db import Connection, Pool, Record

Decision = Literal["approved", "rejected"]
#: a request holds its batch's row, then appends to the audit log; the result writer takes
#: them the other way round (a batch asked again runs): PostgreSQL may end one as a
#: deadlock's victim, and it is run again
ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class ControlRequest:
    batch_id: uuid.UUID
    row: int
    agency: str
    asset: str
    action: str
    reason: str
    term_days: int | None = None
    amount: Decimal | None = None


def _check_term(
    policy: ControlPolicy, agency: str, action: str, term: int | None, first_day: date
) -> int:
    """The term asked for, or the longest for the asset's kind from ``first_day``."""
    limit = policy.settings.term_limit(term_kind(agency, action), first_day)
    if term is None:
        return limit
    if term > limit:
        raise ValidationFailed.of_field(
            "term_days", f"may not exceed {limit} days for this kind of asset"
        )
    return term


def _check_request(policy: ControlPolicy, req: ControlRequest) -> int:
    allowed = CONTROL_ACTIONS.get(req.agency)
    if not allowed:
        raise ValidationFailed.of_field(
            "agency", "holds no assets that can be frozen, sealed or seized"
        )
    if req.action not in allowed:
        raise ValidationFailed.of_field(
            "action", f"must be one of {', '.join(sorted(allowed))} for {req.agency}"
        )
    if req.action == "freeze" and req.amount is None:
        raise ValidationFailed.of_field("amount", "is required to freeze (yuan)")
    if req.action != "freeze" and req.amount is not None:
        raise ValidationFailed.of_field("amount", "is only for a freeze")
    return _check_term(policy, req.agency, req.action, req.term_days, policy.today())


async def request_control(
    policy: ControlPolicy, pool: Pool, caller: Caller, req: ControlRequest
) -> dict[str, Any]:
    """Hold ``req`` for a commander's approval; the control as ``control_json`` shows it."""
    term = _check_request(policy, req)
    control_id = 0
    for attempt in range(1, ATTEMPTS + 1):
        try:
            control_id = await _request_once(policy, pool, caller, req, term)
            break
        except TransactionConflict:
            if attempt == ATTEMPTS:
                raise
    policy.metrics.control_steps.labels(req.action, "requested").inc()
    return await get_control(policy, pool, caller, control_id)


async def _request_once(
    policy: ControlPolicy, pool: Pool, caller: Caller, req: ControlRequest, term: int
) -> int:
    now = policy.clock()
    async with db.transaction_on(pool) as conn:
        src = await store.source(conn, req.batch_id, req.row, req.agency)
        if src is None or src["team_id"] != caller.team_id:
            raise NotFound("no such result")
        # The batch's row is held until commit: a purge beginning meanwhile waits, then sees
        # this control (and keeps the batch); one that began first is seen here.
        if await store.lock_batch_kept(conn, req.batch_id) is not None:
            raise Gone("the result's record was purged after the retention period")
        if not src["filed"] or src["case_team_id"] != src["team_id"]:
            # With GATEWAY_REQUIRE_FILED_CASE off a batch may name an unregistered case; a
            # hold is a court order on a filed case, handled by its team.
            raise Conflict(
                "the batch's case is not registered for your team; holds are on filed cases"
            )
        record = policy.cipher.open_json(src["data"], result_context(src["inquiry_id"]))
        if req.asset not in asset_identifiers(req.agency, record):
            raise ValidationFailed.of_field("asset", "is not among the assets this result found")
        case_number = src["case_number"]
        digest = store.asset_digest(policy.cipher, req.agency, req.asset)
        await store.lock_case(conn, case_number)
        live = await store.live_on_asset(conn, case_number, req.agency, digest)
        if live is not None:
            raise Conflict("this asset already has a control on this case", control_id=live)
        over_limit = False
        if req.amount is not None:
            total = await store.frozen_total(conn, case_number) + req.amount
            limit = src["amount_to_enforce"]
            over_limit = limit is None or total > limit
        new = store.NewControl(
            case_number, src["team_id"], req.batch_id, src["inquiry_id"], req.row, req.agency,
            req.action, digest, req.amount, req.reason, term, caller.officer_id, now,
            over_limit,
        )  # fmt: skip
        control_id = await store.insert(conn, new)
        detail = {
            "control_id": control_id,
            "agency": req.agency,
            "action": req.action,
            "term_days": term,
            "amount": None if req.amount is None else str(req.amount),
            "over_limit": over_limit,
        }
        await _record(conn, caller, case_number, req.batch_id, "control.requested", now, detail)
    return control_id


async def decide(
    policy: ControlPolicy,
    pool: Pool,
    caller: Caller,
    control_id: int,
    decision: Decision,
    note: str | None,
    override_reason: str | None,
) -> dict[str, Any]:
    """A commander approves (the order is queued for the agency) or rejects (final)."""
    now = policy.clock()
    async with db.transaction_on(pool) as conn:
        row = await store.lock(conn, control_id)
        if row is None:
            raise NotFound("no such control")
        if row["status"] != "pending_approval":
            raise Conflict(f"the control is {row['status']}, not pending_approval")
        if row["requested_by"] == caller.officer_id:
            raise Forbidden("a control is decided by someone other than who asked for it")
        if decision == "approved" and row["over_limit"] and not override_reason:
            raise ValidationFailed.of_field(
                "override_reason",
                "is required: this freeze takes the case's frozen total past its amount to "
                "enforce (or the case has none registered)",
            )
        status = "sending" if decision == "approved" else "rejected"
        await store.decide(conn, control_id, status, caller.officer_id, now, note, override_reason)
        if decision == "approved":
            await store.enqueue_send(
                conn, control_id, "hold", row["term_days"], policy.today(), row["requested_by"], now
            )
        detail = {"control_id": control_id, "overridden": bool(override_reason)}
        await _record(
            conn, caller, row["case_number"], row["batch_id"], f"control.{decision}", now, detail
        )
    policy.metrics.control_steps.labels(row["action"], decision).inc()
    return await get_control(policy, pool, caller, control_id)


async def renew(
    policy: ControlPolicy, pool: Pool, caller: Caller, control_id: int, term_days: int | None
) -> dict[str, Any]:
    """Ask the agency to extend a hold in effect (续行), on or before its last day."""
    now, today = policy.clock(), policy.today()
    async with db.transaction_on(pool) as conn:
        row = await _locked_visible(conn, caller, control_id)
        if row["status"] != "in_effect":
            raise Conflict(f"only a hold in effect is renewed; this one is {row['status']}")
        last_day: date = row["expires_on"]
        if last_day < today:
            raise Conflict(
                f"the hold lapsed after {last_day.isoformat()}; a lapsed hold is not renewed "
                "(ask for a new one)"
            )
        window = policy.settings.expiry_window_days
        if (last_day - today).days > window:
            # Renewals stacked early would hold an asset past the longest term the rules allow.
            raise Conflict(
                f"a hold is renewed within {window} days of its last day ({last_day.isoformat()})"
            )
        first_day = last_day + timedelta(days=1)
        term = _check_term(policy, row["agency"], row["action"], term_days, first_day)
        if not await store.enqueue_send(
            conn, control_id, "renew", term, today, caller.officer_id, now
        ):
            raise Conflict("an order for this control is still being sent")
        detail = {"control_id": control_id, "term_days": term}
        await _record(
            conn, caller, row["case_number"], row["batch_id"], "control.renewal_asked", now, detail
        )
    return await get_control(policy, pool, caller, control_id)


async def release(
    policy: ControlPolicy, pool: Pool, caller: Caller, control_id: int
) -> dict[str, Any]:
    """Ask the agency to lift a hold (解除), in effect or waiting in line."""
    now = policy.clock()
    async with db.transaction_on(pool) as conn:
        row = await _locked_visible(conn, caller, control_id)
        if row["status"] not in ("in_effect", "queued_behind"):
            raise Conflict(
                f"only a hold in effect or in line is released; this one is {row['status']}"
            )
        if not await store.enqueue_send(
            conn, control_id, "release", None, policy.today(), caller.officer_id, now
        ):
            raise Conflict("an order for this control is still being sent")
        detail = {"control_id": control_id}
        await _record(
            conn, caller, row["case_number"], row["batch_id"], "control.release_asked", now, detail
        )
    return await get_control(policy, pool, caller, control_id)


async def _locked_visible(conn: Connection, caller: Caller, control_id: int) -> Record:
    row = await store.lock(conn, control_id)
    if row is None or (caller.role == "officer" and row["team_id"] != caller.team_id):
        raise NotFound("no such control")
    return row


async def _record(
    conn: Connection,
    caller: Caller,
    case_number: str,
    batch_id: uuid.UUID,
    action: str,
    now: datetime,
    detail: dict[str, Any],
) -> None:
    """The step in the audit log and in the case's history."""
    await store_audit.action(
        conn,
        action,
        officer_id=caller.officer_id,
        officer=caller.officer,
        team=caller.team,
        case_number=case_number,
        batch_id=batch_id,
        outcome=action.removeprefix("control."),
        detail=detail,
    )
    history = {k: v for k, v in detail.items() if k != "control_id"} | {"by": caller.officer}
    await store.case_event(
        conn, case_number, now, action, batch_id=batch_id, control_id=detail["control_id"],
        detail=history,
    )  # fmt: skip
