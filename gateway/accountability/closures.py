"""终本 (closing the current round of enforcement for want of assets) and its re-query schedule.

An officer of the case's team marks the case closed on a date (``POST
/v1/cases/{case}/closure``). From then, every GATEWAY_CLOSURE_INTERVAL_MONTHS for
GATEWAY_CLOSURE_YEARS (SPC rules on 终本, 2016: at least every six months for five years),
the leader replica submits the case's debtors again at all six agencies, as a batch of the
case's team by its system submitter (``system:终本复查:<team>``), with the lawful basis as its
reason; the batch is audited as any other. Its answers are compared with every asset known
on the case before (by keyed digest): assets new to the case raise a ``new_assets`` alert
(新发现财产) for the team and enter the case's history. Reopening the case stops the
schedule; closing it again starts a new one.

Once across replicas: each round is submitted under an idempotency key naming the case and
the round (two schedulers, or one retried after a crash, get the same batch), and the
schedule advances only from the round before.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from connectors.base import Subject
from connectors.controls import ASSET_FIELDS
from connectors.registry import AGENCIES
from gateway.accountability.auth import Caller
from gateway.accountability.control_records import ControlPolicy
from gateway.core.assets import asset_identifiers
from gateway.core.control_settings import add_months
from gateway.core.errors import Conflict, NotFound, TransactionConflict, ValidationFailed
from gateway.core.validation import BatchRequest
from gateway.store import audit as store_audit
from gateway.store import closures as store
from gateway.store import controls as store_controls
from gateway.store import db
from gateway.store.crypto import result_context, subject_context
from gateway.store.db import Connection, Pool, Record

SYSTEM_PREFIX = "system:终本复查:"
REASON = (
    "终本案件第{round}次定期复查（《最高人民法院关于严格规范终结本次执行程序的规定（试行）》"
    "第九条：终本后五年内每六个月通过网络执行查控系统查询一次被执行人财产）"
)
REQUERY_REASON = "终本案件定期复查"
#: a closure holds its case's batches, then appends to the audit log (see controls.ATTEMPTS)
ATTEMPTS = 3


def due_on(policy: ControlPolicy, closed_on: date, round_: int) -> date:
    return add_months(closed_on, round_ * policy.settings.closure_interval_months)


async def _case_visible(conn: Connection, caller: Caller, case_number: str) -> Record:
    row = await store.case(conn, case_number)
    if row is None or (caller.role == "officer" and row["team_id"] != caller.team_id):
        raise NotFound("no such case for your team")
    return row


async def close_case(
    policy: ControlPolicy, pool: Pool, caller: Caller, case_number: str, closed_on: date | None
) -> dict[str, Any]:
    """Start the case's re-query schedule from ``closed_on`` (default today). A date long past
    schedules its latest passed mark at once and the rest from there."""
    today = policy.today()
    closed_on = closed_on or today
    if closed_on > today:
        raise ValidationFailed.of_field("closed_on", "may not be in the future")
    rounds = policy.settings.closure_rounds
    passed = sum(1 for k in range(1, rounds + 1) if due_on(policy, closed_on, k) <= today)
    if passed >= rounds:
        problem = f"the schedule of {policy.settings.closure_years} years after it is over"
        raise ValidationFailed.of_field("closed_on", problem)
    rounds_done = max(0, passed - 1)
    next_due = due_on(policy, closed_on, rounds_done + 1)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            await _close_once(policy, pool, caller, case_number, closed_on, rounds_done, next_due)
            break
        except TransactionConflict:
            if attempt == ATTEMPTS:
                raise
    return await history(policy, pool, caller, case_number)


async def _close_once(
    policy: ControlPolicy, pool: Pool, caller: Caller, case_number: str, closed_on: date,
    rounds_done: int, next_due: date,
) -> None:  # fmt: skip
    now = policy.clock()
    async with db.transaction_on(pool) as conn:
        case = await _case_visible(conn, caller, case_number)
        if case["next_due_on"] is not None:
            raise Conflict(f"the case is closed (终本) since {case['closed_on'].isoformat()}")
        # Its batches are held to commit, as a control holds its own (controls.py): a purge
        # beginning meanwhile waits, then sees the closure and keeps them.
        await store.lock_batches_kept(conn, case_number)
        debtors = await store.debtors(conn, case_number)
        if not debtors:
            problem = "no debtor of this case is on record: submit a batch for it first"
            raise ValidationFailed.of_field("case_number", problem)
        if not await store.close(
            conn, case_number, closed_on, caller.officer_id, rounds_done, next_due, now
        ):
            raise Conflict("the case was closed (终本) a moment ago")
        known = await remember_assets(policy, conn, case_number, None)
        detail = {
            "closed_on": closed_on.isoformat(),
            "debtors": len(debtors),
            "assets_known": dict(sorted(known.items())),
            "next_due_on": next_due.isoformat(),
        }
        await record_step(
            conn, caller.officer_id, caller.officer, caller.team, case_number, "case.closed", detail
        )
        await store_controls.case_event(conn, case_number, now, "case.closed", detail=detail)


async def reopen_case(
    policy: ControlPolicy, pool: Pool, caller: Caller, case_number: str
) -> dict[str, Any]:
    """The case is enforced again: its re-query schedule stops."""
    now = policy.clock()
    async with db.transaction_on(pool) as conn:
        await _case_visible(conn, caller, case_number)
        if not await store.reopen(conn, case_number, now):
            problem = "the case is not closed (终本)"
            raise ValidationFailed.of_field("case_number", problem)
        await record_step(
            conn, caller.officer_id, caller.officer, caller.team, case_number, "case.reopened", {}
        )
        await store_controls.case_event(conn, case_number, now, "case.reopened")
    return await history(policy, pool, caller, case_number)


async def history(
    policy: ControlPolicy, pool: Pool, caller: Caller, case_number: str
) -> dict[str, Any]:
    async with db.connection(pool) as conn:
        row = await _case_visible(conn, caller, case_number)
        events = await store_controls.case_events(conn, case_number)
    closure = None
    if row["closed_on"] is not None:
        closure = {
            "closed_on": row["closed_on"].isoformat(),
            "rounds_done": row["rounds_done"],
            "rounds": policy.settings.closure_rounds,
            "next_due_on": None if row["next_due_on"] is None else row["next_due_on"].isoformat(),
            "reopened_at": None if row["reopened_at"] is None else row["reopened_at"].isoformat(),
        }
    amount = row["amount_to_enforce"]
    return {
        "case_number": case_number,
        "team": row["team"],
        "amount_to_enforce": None if amount is None else str(amount),
        "closure": closure,
        "events": [
            {
                "at": e["at"].isoformat(),
                "kind": e["kind"],
                "batch_id": None if e["batch_id"] is None else str(e["batch_id"]),
                "control_id": e["control_id"],
                "detail": e["detail"],
            }
            for e in events
        ],
    }


async def remember_assets(
    policy: ControlPolicy, conn: Connection, case_number: str, batch: Any
) -> Counter[str]:
    """Add the assets found on the case (by batch ``batch``, or by every batch) to what it
    knows; how many were new, per agency."""
    records = await store.found_records(conn, case_number, batch, list(ASSET_FIELDS))
    by_batch: dict[Any, list[tuple[bytes, str, bytes]]] = {}
    for r in records:
        data = policy.cipher.open_json(r["data"], result_context(r["inquiry_id"]))
        for identifier in asset_identifiers(r["agency"], data):
            digest = store_controls.asset_digest(policy.cipher, r["agency"], identifier)
            by_batch.setdefault(r["batch_id"], []).append(
                (r["subject_digest"], r["agency"], digest)
            )
    new: Counter[str] = Counter()
    for batch_id, seen in by_batch.items():
        new.update(await store.add_seen(conn, case_number, seen, batch_id, policy.clock()))
    return new


async def record_step(
    conn: Connection,
    officer_id: int | None,
    officer: str,
    team: str | None,
    case_number: str,
    action: str,
    detail: dict[str, Any],
    batch_id: Any = None,
) -> None:
    await store_audit.action(
        conn, action, officer_id=officer_id, officer=officer, team=team,
        case_number=case_number, batch_id=batch_id, outcome=action.removeprefix("case."),
        detail=detail,
    )  # fmt: skip


def debtor_subjects(policy: ControlPolicy, debtors: list[Record]) -> tuple[Subject, ...]:
    open_text = policy.cipher.open_text
    return tuple(
        Subject(
            open_text(d["name"], subject_context(d["batch_id"], d["row"], "name")),
            open_text(d["id_number"], subject_context(d["batch_id"], d["row"], "id")),
            d["kind"],
        )
        for d in sorted(debtors, key=lambda d: d["subject_digest"])
    )


def requery_request(case_number: str, round_: int, subjects: tuple[Subject, ...]) -> BatchRequest:
    return BatchRequest(
        case_number=case_number,
        reason=REASON.format(round=round_),
        agencies=tuple(AGENCIES),
        subjects=subjects,
        requery_reason=REQUERY_REASON,
    )


def system_caller(officer_id: int, team_id: int, team: str) -> Caller:
    return Caller(officer_id, SYSTEM_PREFIX + team, "officer", team_id, team)


def new_assets_detail(case_number: str, round_: int, new: Counter[str]) -> dict[str, Any]:
    return {"case_number": case_number, "round": round_, "agencies": dict(sorted(new.items()))}
