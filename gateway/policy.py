"""Admission policy: what must hold before a batch is accepted, and what it flags.

``admit`` runs inside the submission transaction (``gateway.batches.submit``), before anything
is written: it raises ``rules.Intercepted`` to intercept a request, or returns the status the
new batch starts in (``queued``, or ``pending_approval`` for a commander). ``after_submit``
runs in the same transaction once the batch is stored: it keeps the officer's daily ledger,
records a stated re-query reason, and raises risk alerts (``gateway.alerts``).

The seam's signature carries no settings, so the API submits through :func:`submit`, which
binds the application's settings, cipher and metrics to the request for ``admit`` and
``after_submit`` (a context variable: per request, so several apps can live in one process),
and which audits and counts an interception once the submission has rolled back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog
from aiohttp import web

# batches imports this module too; both only use each other's names at call time.
from gateway import alerts, batches, rules
from gateway.auth import Caller
from gateway.crypto import DataCipher
from gateway.errors import ValidationFailed
from gateway.metrics import Metrics
from gateway.queries import sql
from gateway.settings import Settings
from gateway.state import CIPHER, METRICS, POOL, SETTINGS
from gateway.validation import BatchRequest

log = structlog.get_logger("gateway.policy")


@dataclass(slots=True)
class _Submission:
    settings: Settings
    cipher: DataCipher
    admission: rules.Admission | None = None
    alerts: list[str] = field(default_factory=list)
    audit: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)


_CURRENT: ContextVar[_Submission | None] = ContextVar("gateway_submission", default=None)


def _current() -> _Submission:
    current = _CURRENT.get()
    if current is None:
        # Fail closed: without the rules' settings no batch may be admitted.
        raise RuntimeError("submit batches through gateway.policy.submit (no policy bound)")
    return current


@contextmanager
def bound(settings: Settings, cipher: DataCipher) -> Iterator[_Submission]:
    """The rules' settings for submissions made inside this block."""
    submission = _Submission(settings, cipher)
    token = _CURRENT.set(submission)
    try:
        yield submission
    finally:
        _CURRENT.reset(token)


def init_metrics(metrics: Metrics) -> None:
    """Every reason and kind shows on the dashboard from the start, at zero."""
    for reason in rules.REASONS:
        metrics.interceptions.labels(reason)
    for kind in alerts.KINDS:
        metrics.alerts.labels(kind)
    for decision in ("held", "approved", "rejected"):
        metrics.approvals.labels(decision)


async def submit(
    app: web.Application, caller: Caller, request: BatchRequest, idempotency_key: str | None
) -> tuple[uuid.UUID, bool]:
    """``batches.submit`` under the rules; an interception is audited, counted and re-raised."""
    metrics = app[METRICS]
    with bound(app[SETTINGS], app[CIPHER]) as submission:
        try:
            batch_id, replayed = await batches.submit(
                app[POOL], app[CIPHER], caller, request, idempotency_key
            )
        except rules.Intercepted as exc:
            # The submission's transaction has rolled back: this record is all that remains.
            async with app[POOL].acquire() as conn:
                await record_interception(conn, caller, request, exc)
            metrics.interceptions.labels(exc.reason).inc()
            log.info("batch_intercepted", reason=exc.reason, subjects=len(request.subjects))
            raise
    if not replayed:
        for kind in submission.alerts:
            metrics.alerts.labels(kind).inc()
        if submission.admission is not None and submission.admission.status != "queued":
            metrics.approvals.labels("held").inc()
    return batch_id, replayed


async def record_malformed_case(
    app: web.Application, caller: Caller, error: ValidationFailed
) -> None:
    """A submission without a well-formed case number has no lawful basis: besides the 422,
    it is audited and counted as a violation (the malformed text itself is not stored)."""
    problems = [p["problem"] for p in error.problems if p.get("field") == "case_number"]
    if not problems:
        return
    async with app[POOL].acquire() as conn:
        await conn.execute(
            sql("audit_action"),
            "batch.intercepted",
            caller.officer_id,
            caller.officer,
            caller.team,
            None,
            None,
            rules.CASE_MALFORMED,
            {"problem": problems[0]},
        )
    app[METRICS].interceptions.labels(rules.CASE_MALFORMED).inc()


async def record_interception(
    conn: asyncpg.Connection, caller: Caller, request: BatchRequest, exc: rules.Intercepted
) -> None:
    detail = {
        "subjects": len(request.subjects),
        "agencies": list(request.agencies),
        "message": exc.message,
    }
    await conn.execute(
        sql("audit_action"),
        "batch.intercepted",
        caller.officer_id,
        caller.officer,
        caller.team,
        request.case_number,
        None,
        exc.reason,
        detail,
    )


async def admit(conn: asyncpg.Connection, caller: Caller, request: BatchRequest) -> str:
    """The status the batch starts in, or raise ``rules.Intercepted`` with a reason."""
    submission = _current()
    now = submission.settings.clock()
    day = now.astimezone(alerts.zone(submission.settings)).date()
    submission.admission = await rules.check(
        conn, submission.settings, submission.cipher, caller, request, now, day
    )
    return submission.admission.status


async def after_submit(
    conn: asyncpg.Connection, caller: Caller, batch_id: uuid.UUID, request: BatchRequest
) -> None:
    """Record anything the submission should flag; never blocks it. Writes no audit record
    (see ``audit_submission``): those come last, to hold the audit chain's lock briefly."""
    submission = _current()
    admission = submission.admission
    assert admission is not None, "after_submit without admit"
    count = len(request.subjects)
    day_total = await conn.fetchval(
        sql("add_daily_volume"), caller.officer_id, admission.day, count
    )
    if request.requery_reason is not None:
        await conn.execute(sql("set_requery_reason"), batch_id, request.requery_reason)
        if admission.requeried_rows:
            # The stated reason is the lawful basis for asking again; the audit record says
            # that one was given (the text itself may name people: it stays with the batch,
            # out of the append-only log).
            detail = {
                "subjects": len(admission.requeried_rows),
                "reason_characters": len(request.requery_reason),
            }
            submission.audit.append(("batch.requery_justified", "justified", detail))
    if admission.status == "pending_approval":
        detail: dict[str, Any] = {
            "case_subjects": admission.case_subjects,
            "threshold": submission.settings.approval_threshold,
        }
        submission.audit.append(("batch.held", "pending_approval", detail))
    submission.alerts = await alerts.raise_alerts(
        conn,
        submission.settings,
        caller,
        batch_id,
        count,
        day_total,
        admission.now,
        admission.day,
    )


async def audit_submission(conn: asyncpg.Connection, batch_id: uuid.UUID) -> None:
    """The audit records ``after_submit`` decided on, written just before commit."""
    for action, outcome, detail in _current().audit:
        await conn.execute(sql("audit_batch_event"), batch_id, action, outcome, detail)
