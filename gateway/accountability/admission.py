"""Admitting a batch: the rules, storage, alerts and audit of one submission, in one
transaction.

``submit`` is the submission path for every way a batch arrives (JSON, a spreadsheet, the
CLI through the API). Its dependencies come in one explicit object, ``AdmissionPolicy``
(settings, cipher, metrics, clock), built once by the application. Inside the transaction,
after the team's lock: an idempotent replay is answered as such; ``rules.check_request``
may intercept (raising ``rules.Intercepted``); the sealed subjects are stored (their digests
taken meanwhile); ``rules.check_subjects`` intercepts or gives the status the batch starts
in (``queued`` or ``pending_approval``); the batch and one inquiry per subject and agency
are stored; the officer's daily ledger, a stated re-query reason and the risk alerts are
recorded; the audit records come last (the first takes the audit chain's head lock, which
every result commit waits for, so it is held only until commit). An interception rolls all
of that back; it is then audited and counted on its own.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from gateway.accountability import alerts, rules
from gateway.accountability.auth import Caller
from gateway.accountability.sealing import SealedTail, Sealing
from gateway.core.errors import ValidationFailed
from gateway.core.metrics import Metrics
from gateway.core.settings import Settings
from gateway.core.validation import BatchRequest
from gateway.store import audit as store_audit
from gateway.store import batches as store
from gateway.store import channels, db
from gateway.store import rules as store_rules
from gateway.store.crypto import DataCipher
from gateway.store.db import Connection, Pool, Record

log = structlog.get_logger("gateway.admission")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class AdmissionPolicy:
    """Everything admitting a batch depends on, passed explicitly."""

    settings: Settings
    cipher: DataCipher
    metrics: Metrics
    #: the time the rules and alerts see; tests inject their own
    clock: Callable[[], datetime] = utcnow

    def init_metrics(self) -> None:
        """Every reason and kind shows on the dashboard from the start, at zero."""
        for reason in rules.REASONS:
            self.metrics.interceptions.labels(reason)
        for kind in alerts.KINDS:
            self.metrics.alerts.labels(kind)
        for decision in ("held", "approved", "rejected"):
            self.metrics.approvals.labels(decision)


@dataclass(frozen=True, slots=True)
class Submitted:
    batch_id: uuid.UUID
    #: the same Idempotency-Key and request were submitted before: this is that batch
    replayed: bool
    status: str = "queued"
    alerts: list[str] = field(default_factory=list[str])
    #: when it was stored (None for a replay)
    created_at: datetime | None = None


def request_digest(request: BatchRequest) -> bytes:
    canonical = json.dumps(request.canonical(), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).digest()


async def submit(
    policy: AdmissionPolicy,
    pool: Pool,
    caller: Caller,
    request: BatchRequest,
    idempotency_key: str | None,
    tail: SealedTail | None = None,
) -> Submitted:
    """Store the batch and its inquiries, or raise ``rules.Intercepted`` (audited, counted).
    ``tail``: the list's last rows, already sealed for the batch it names."""
    metrics = policy.metrics
    try:
        submitted = await _store(policy, pool, caller, request, idempotency_key, tail)
    except rules.Intercepted as exc:
        # The submission's transaction has rolled back: this record is all that remains.
        async with db.connection(pool) as conn:
            await _record_interception(conn, caller, request, exc)
        metrics.interceptions.labels(exc.reason).inc()
        log.info("batch_intercepted", reason=exc.reason, subjects=len(request.subjects))
        raise
    if not submitted.replayed:
        metrics.batches_submitted.inc()
        metrics.subjects_submitted.inc(len(request.subjects))
        for kind in submitted.alerts:
            metrics.alerts.labels(kind).inc()
        if submitted.status == "pending_approval":
            metrics.approvals.labels("held").inc()
    return submitted


async def _store(
    policy: AdmissionPolicy,
    pool: Pool,
    caller: Caller,
    request: BatchRequest,
    idempotency_key: str | None,
    tail: SealedTail | None,
) -> Submitted:
    assert caller.team_id is not None, "only officers of a team submit"
    # Only a replay under the same Idempotency-Key is compared with it; without a key the
    # digest is never read, and taking it costs a tenth of a 100,000-subject submission.
    digest = request_digest(request) if idempotency_key is not None else b""
    batch_id = uuid.uuid4() if tail is None else tail.batch_id
    rows = request.row_numbers()  # the list's own rows: a merged repeat leaves a gap
    sealing = Sealing(policy.cipher, batch_id, rows, request, tail)
    try:
        return await _admit(policy, pool, caller, request, idempotency_key, digest, sealing, rows)
    except _RaceLost as lost:  # rolled back, the subjects stored with it
        return _replayed(lost.existing, digest)


class _RaceLost(Exception):
    """A concurrent submission under the same Idempotency-Key was stored first."""

    def __init__(self, existing: Record) -> None:
        super().__init__("idempotency race lost")
        self.existing = existing


async def _admit(
    policy: AdmissionPolicy,
    pool: Pool,
    caller: Caller,
    request: BatchRequest,
    idempotency_key: str | None,
    digest: bytes,
    sealing: Sealing,
    rows: Sequence[int],
) -> Submitted:
    assert caller.team_id is not None
    settings, batch_id = policy.settings, sealing.batch_id
    async with db.transaction_on(pool) as conn:
        # The team's submissions take turns from here to commit, so a retry racing its first
        # attempt waits for it and is answered as a replay, not judged (and intercepted) anew.
        await store.lock_team_submissions(conn, caller.team_id)
        if idempotency_key is not None:
            existing = await store.find_idempotent(conn, caller.officer_id, idempotency_key)
            if existing is not None:
                return _replayed(existing, digest)
        now = policy.clock()
        day = now.astimezone(alerts.zone(settings)).date()
        await rules.check_request(conn, settings, caller, request, day)
        # The subjects next, digested and sealed while PostgreSQL stores them (by COPY, a
        # chunk at a time, for more than a few): the rules below need their digests, and read
        # only subjects of stored batches (this one is not, yet). An interception rolls them
        # back with the rest.
        await store.insert_subjects(conn, sealing.records(), len(rows))
        assert len(sealing.digests) == len(rows), "every subject stored and digested"
        admission = await rules.check_subjects(
            conn, settings, sealing.digests, caller, request, now, day
        )
        # A large list's inquiries are stored after the 202, a chunk per transaction
        # (Upkeep.queue_subjects, told at commit), so the list is answered at spreadsheet speed.
        unqueued_from = rows[0] if len(rows) > store.QUEUE_CHUNK else None
        created_at = await store.insert_batch(
            conn,
            batch_id,
            admission.status,
            caller.officer_id,
            caller.team_id,
            request.case_number,
            request.reason,
            request.agencies,
            len(request.subjects),
            idempotency_key,
            digest,
            request.household_items,
            request.merged_rows,
            unqueued_from,
        )
        if created_at is None:
            # A concurrent submission with the same key won the race (we waited for it).
            assert idempotency_key is not None
            existing = await store.find_idempotent(conn, caller.officer_id, idempotency_key)
            assert existing is not None
            raise _RaceLost(existing)
        deadlines = settings.answer_deadlines(request.agencies)
        if unqueued_from is None:
            await store.insert_inquiries(conn, batch_id, rows, deadlines, now)
        audit, raised = await _after_admission(
            conn, policy, caller, batch_id, request, admission, unqueued_from is None
        )
        submitted: dict[str, Any] = {
            "subjects": len(request.subjects),
            "agencies": list(request.agencies),
        }
        if "household" in request.agencies:
            submitted["household_items"] = list(request.household_items)
        await store_audit.batch_event(conn, batch_id, "batch.submitted", "accepted", submitted)
        for action, outcome, detail in audit:
            await store_audit.batch_event(conn, batch_id, action, outcome, detail)
        if admission.status == "queued":
            await store.notify(conn, channels.QUEUED, channels.agencies_payload(request.agencies))
        if unqueued_from is not None:
            await store.notify(conn, channels.UNQUEUED)
    return Submitted(batch_id, False, admission.status, raised, created_at)


async def _after_admission(
    conn: Connection,
    policy: AdmissionPolicy,
    caller: Caller,
    batch_id: uuid.UUID,
    request: BatchRequest,
    admission: rules.Admission,
    cross_team: bool,
) -> tuple[list[tuple[str, str, dict[str, Any]]], list[str]]:
    """Record what the submission should flag; never blocks it. Returns the audit records to
    write last, and the kinds of alerts raised (``cross_team``: see ``alerts``)."""
    audit: list[tuple[str, str, dict[str, Any]]] = []
    count = len(request.subjects)
    day_total = await store_rules.add_daily_volume(conn, caller.officer_id, admission.day, count)
    if request.requery_reason is not None:
        await store.set_requery_reason(conn, batch_id, request.requery_reason)
        if admission.requeried_rows:
            # The stated reason is the lawful basis for asking again; the audit record says
            # that one was given (the text itself may name people: it stays with the batch,
            # out of the append-only log).
            detail = {
                "subjects": len(admission.requeried_rows),
                "reason_characters": len(request.requery_reason),
            }
            audit.append(("batch.requery_justified", "justified", detail))
    if admission.status == "pending_approval":
        held = {
            "case_subjects": admission.case_subjects,
            "threshold": policy.settings.approval_threshold,
        }
        audit.append(("batch.held", "pending_approval", held))
    raised = await alerts.raise_alerts(
        conn,
        policy.settings,
        caller,
        batch_id,
        count,
        day_total,
        admission.now,
        admission.day,
        cross_team,
    )
    return audit, raised


def _replayed(existing: Record, digest: bytes) -> Submitted:
    if existing["request_digest"] != digest:
        raise ValidationFailed(
            [
                {
                    "row": None,
                    "field": "Idempotency-Key",
                    "problem": "was already used for a different batch",
                }
            ],
            "Idempotency-Key reused with a different request; nothing was stored",
        )
    return Submitted(existing["id"], True)


async def record_malformed_case(
    policy: AdmissionPolicy, pool: Pool, caller: Caller, error: ValidationFailed
) -> None:
    """A submission without a well-formed case number has no lawful basis: besides the 422,
    it is audited and counted as a violation (the malformed text itself is not stored)."""
    problems = [p["problem"] for p in error.problems if p.get("field") == "case_number"]
    if not problems:
        return
    async with db.connection(pool) as conn:
        await store_audit.action(
            conn,
            "batch.intercepted",
            officer_id=caller.officer_id,
            officer=caller.officer,
            team=caller.team,
            outcome=rules.CASE_MALFORMED,
            detail={"problem": problems[0]},
        )
    policy.metrics.interceptions.labels(rules.CASE_MALFORMED).inc()


async def _record_interception(
    conn: Connection, caller: Caller, request: BatchRequest, exc: rules.Intercepted
) -> None:
    await store_audit.action(
        conn,
        "batch.intercepted",
        officer_id=caller.officer_id,
        officer=caller.officer,
        team=caller.team,
        case_number=request.case_number,
        outcome=exc.reason,
        detail={
            "subjects": len(request.subjects),
            "agencies": list(request.agencies),
            "message": exc.message,
        },
    )
