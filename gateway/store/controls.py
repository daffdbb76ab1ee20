"""Control actions in the database: holds and their approval, the outbox of sends to the
agencies (leased like inquiries, so a dead replica's send is taken over with its idempotency
key), expiry and reminders, and each case's history of events (queries in
``sql/controls.sql``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from gateway.store import _run
from gateway.store._run import Connection, Record
from gateway.store.crypto import DataCipher

LIVE = ("pending_approval", "sending", "in_effect", "queued_behind")


def asset_digest(cipher: DataCipher, agency: str, identifier: str) -> bytes:
    """An asset's keyed digest: how a control names it without holding the identifier."""
    return cipher.subject_digest(f"asset:{agency}:{identifier}")


class NewControl(NamedTuple):
    case_number: str
    team_id: int
    batch_id: uuid.UUID
    inquiry_id: int
    row: int
    agency: str
    action: str
    asset_digest: bytes
    amount: Decimal | None
    reason: str
    term_days: int
    requested_by: int
    requested_at: datetime
    over_limit: bool


class Answer(NamedTuple):
    """What an agency's answer does to a control."""

    status: str
    receipt_no: str | None = None
    position: int | None = None
    effective_on: date | None = None
    expires_on: date | None = None
    refusal: str | None = None
    renewed: bool = False
    released_at: datetime | None = None
    refusal_code: str | None = None
    #: a refused renewal or release: the hold stands as it is (only the refusal is noted)
    stands: bool = False


async def source(conn: Connection, batch_id: uuid.UUID, row: int, agency: str) -> Record | None:
    return await _run.fetchrow(conn, "control_source", batch_id, row, agency)


async def lock_batch_kept(conn: Connection, batch_id: uuid.UUID) -> datetime | None:
    """Hold the batch's row to commit; when its data was purged (None: kept)."""
    return await _run.fetchval(conn, "control_lock_batch_kept", batch_id)


async def lock_case(conn: Connection, case_number: str) -> None:
    await _run.execute(conn, "control_lock_case", case_number)


async def frozen_total(conn: Connection, case_number: str) -> Decimal:
    return await _run.fetchval(conn, "control_frozen_total", case_number)


async def live_on_asset(
    conn: Connection, case_number: str, agency: str, asset_digest: bytes
) -> int | None:
    return await _run.fetchval(conn, "control_live_on_asset", case_number, agency, asset_digest)


async def insert(conn: Connection, new: NewControl) -> int:
    return await _run.fetchval(conn, "control_insert", *new)


async def get(conn: Connection, control_id: int, team_id: int | None) -> Record | None:
    return await _run.fetchrow(conn, "control_get", control_id, team_id)


async def lock(conn: Connection, control_id: int) -> Record | None:
    return await _run.fetchrow(conn, "control_lock", control_id)


async def decide(
    conn: Connection,
    control_id: int,
    status: str,
    officer_id: int,
    at: datetime,
    note: str | None,
    override_reason: str | None,
) -> None:
    await _run.execute(
        conn, "control_decide", control_id, status, officer_id, at, note, override_reason
    )


async def enqueue_send(
    conn: Connection,
    control_id: int,
    operation: str,
    term_days: int | None,
    order_date: date,
    officer_id: int,
    now: datetime,
) -> bool:
    """Queue a send; False when one is already pending for the control."""
    key = uuid.uuid4()
    sent = await _run.fetchval(
        conn, "control_send_insert", control_id, operation, key, term_days, order_date,
        officer_id, now,
    )  # fmt: skip
    return sent is not None


async def claim_sends(
    conn: Connection, owner: str, now: datetime, lease_until: datetime, limit: int
) -> list[Record]:
    return await _run.fetch(conn, "control_sends_claim", owner, now, lease_until, limit)


async def send_context(conn: Connection, control_id: int, officer_id: int) -> Record | None:
    return await _run.fetchrow(conn, "control_send_context", control_id, officer_id)


async def send_retry(
    conn: Connection, send_id: int, owner: str, not_before: datetime, error: str
) -> bool:
    return (
        await _run.fetchval(conn, "control_send_retry", send_id, owner, not_before, error)
        is not None
    )


async def send_done(conn: Connection, send_id: int, owner: str, now: datetime) -> bool:
    return await _run.fetchval(conn, "control_send_done", send_id, owner, now) is not None


async def answered(
    conn: Connection, control_id: int, answer: Answer, now: datetime
) -> Record | None:
    """The agency's answer applied; None when the control has moved on since it was sent
    (released, expired: the answer to an older order does not undo that)."""
    if answer.stands:
        return await _run.fetchrow(conn, "control_refusal_noted", control_id, answer.refusal, now)
    return await _run.fetchrow(
        conn, "control_answered", control_id, answer.status, answer.receipt_no,
        answer.position, answer.effective_on, answer.expires_on, answer.refusal, now,
        1 if answer.renewed else 0, answer.released_at,
    )  # fmt: skip


async def lines_to_check(conn: Connection, today: date, now: datetime) -> list[int]:
    """Ask today about every hold waiting in line; the controls asked about."""
    return [r["control_id"] for r in await _run.fetch(conn, "control_lines_to_check", today, now)]


async def line_moved(
    conn: Connection, control_id: int, answer: Answer, now: datetime
) -> Record | None:
    """The hold as the agency says it stands now, if it still waits and that changed."""
    return await _run.fetchrow(
        conn, "control_line_moved", control_id, answer.status, answer.position,
        answer.effective_on, answer.expires_on, now,
    )  # fmt: skip


async def page(
    conn: Connection,
    *,
    team_id: int | None,
    case_number: str | None,
    status: str | None,
    expiring_by: date | None,
    after: int | None,
    limit: int,
) -> list[Record]:
    return await _run.fetch(
        conn, "controls_list", team_id, case_number, status, expiring_by, after, limit
    )


async def records(conn: Connection, inquiry_ids: list[int]) -> dict[int, bytes | None]:
    rows = await _run.fetch(conn, "control_assets", inquiry_ids)
    return {r["inquiry_id"]: r["data"] for r in rows}


async def expire(conn: Connection, today: date, now: datetime) -> list[Record]:
    """Expire what lapsed before ``today`` (in a transaction): the candidates are locked
    first, then judged by a statement that sees a renewal asked while it waited."""
    await _run.fetch(conn, "controls_to_expire", today)
    return await _run.fetch(conn, "controls_expire", today, now)


async def to_remind(conn: Connection, first: date, last: date) -> list[Record]:
    return await _run.fetch(conn, "controls_to_remind", first, last)


async def in_effect_by_action(conn: Connection) -> dict[str, int]:
    return {r["action"]: r["holds"] for r in await _run.fetch(conn, "controls_in_effect_by_action")}


async def cluster_figures(conn: Connection, now: datetime, expiring_by: date) -> Record:
    """(expiring, oldest_order_seconds): see ``controls_cluster_figures``."""
    row = await _run.fetchrow(conn, "controls_cluster_figures", now, expiring_by)
    assert row is not None
    return row


async def case_event(
    conn: Connection,
    case_number: str,
    at: datetime,
    kind: str,
    *,
    batch_id: uuid.UUID | None = None,
    control_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    await _run.execute(
        conn, "case_event_insert", case_number, at, kind, batch_id, control_id, detail or {}
    )


async def case_events(conn: Connection, case_number: str) -> list[Record]:
    return await _run.fetch(conn, "case_events_list", case_number)


async def follow_cases(conn: Connection, case_numbers: list[str]) -> None:
    await _run.execute(conn, "controls_follow_cases", case_numbers)


async def batch_assets(
    conn: Connection, batch_id: uuid.UUID, agencies: list[str], limit: int
) -> list[Record]:
    return await _run.fetch(conn, "control_batch_assets", batch_id, agencies, limit)


async def batch_controls(conn: Connection, batch_id: uuid.UUID) -> list[Record]:
    return await _run.fetch(conn, "control_batch_controls", batch_id)


async def pending_list(conn: Connection, limit: int) -> list[Record]:
    return await _run.fetch(conn, "controls_pending_list", limit)


async def expiring_list(conn: Connection, last_day: date, limit: int) -> list[Record]:
    return await _run.fetch(conn, "controls_expiring_list", last_day, limit)


async def steps_between(
    conn: Connection, since: datetime | None, until: datetime | None
) -> dict[str, int]:
    rows = await _run.fetch(conn, "control_steps_between", since, until)
    return {r["kind"]: r["steps"] for r in rows}
