"""Sending control orders (hold, renew, release) to the agencies from the outbox
(``control_sends``, migration 0016), on every replica.

A send is leased like an inquiry. It goes out with its idempotency key, which the agency
honours: if this replica dies after the agency acted but before the answer was recorded, the
lease lapses, another replica sends the same key again, and the agency answers with the same
receipt instead of a second hold. The answer is recorded only while the lease is still this
replica's, so it is recorded once. An agency that cannot answer (timeout, refused
connection, 5xx, 429) is asked again later with full-jitter backoff, without end: an
approved order is never dropped; its refusal (an unknown asset, a lapsed hold) is final.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog

from connectors.base import Requester, Subject
from connectors.controls import ControlAnswer, ControlClient, ControlRefused, HoldOrder
from connectors.errors import PermanentAgencyError, TransientAgencyError
from gateway.core.assets import asset_identifiers
from gateway.core.errors import DatabaseError
from gateway.core.metrics import Metrics
from gateway.core.settings import Settings
from gateway.store import audit as store_audit
from gateway.store import controls as store
from gateway.store import db
from gateway.store.crypto import DataCipher, result_context, subject_context
from gateway.store.db import Pool, Record
from gateway.worker.backoff import FullJitterBackoff

log = structlog.get_logger("gateway.controls")

#: sends claimed at a time (orders are few; each is one request)
CLAIM = 16
#: how often the outbox is looked at without being woken (another replica's approvals,
#: retries falling due)
POLL_SECONDS = 2.0
_STATES = {"in_effect": "in_effect", "queued": "queued_behind", "released": "released",
           "expired": "expired"}  # fmt: skip


class ControlSender:
    def __init__(
        self,
        pool: Pool,
        clients: Mapping[str, ControlClient],
        settings: Settings,
        metrics: Metrics,
        cipher: DataCipher,
        clock: Callable[[], datetime],
    ) -> None:
        self._pool = pool
        self._clients = clients
        self._settings = settings
        self._metrics = metrics
        self._cipher = cipher
        self._clock = clock
        self._backoff = FullJitterBackoff(settings.backoff_base, settings.backoff_cap)
        self._woken = asyncio.Event()
        #: answers this sender recorded, per control (what ``wait_answered`` waits on)
        self.answered: Counter[int] = Counter()
        #: sends this sender finished (marked done), whatever they changed
        self.sent = 0
        self._recorded = asyncio.Condition()

    def wake(self) -> None:
        self._woken.set()

    async def wait_sent(self, count: int = 1) -> None:
        """Until this sender has finished ``count`` sends (answers recorded or not)."""
        async with self._recorded:
            await self._recorded.wait_for(lambda: self.sent >= count)

    async def wait_answered(self, control_id: int, count: int = 1) -> None:
        """Until this sender has recorded ``count`` answers about the control."""
        async with self._recorded:
            await self._recorded.wait_for(lambda: self.answered[control_id] >= count)

    async def run(self) -> None:
        while True:
            try:
                while await self.send_due() == CLAIM:
                    pass
            except Exception as exc:
                log.warning("control_sends_failed", error=type(exc).__name__)
            try:
                await asyncio.wait_for(self._woken.wait(), POLL_SECONDS)
            except TimeoutError:
                pass
            self._woken.clear()

    async def send_due(self) -> int:
        """Send what is due now; how many sends were claimed."""
        now = self._clock()
        lease = now + timedelta(seconds=self._settings.lease_seconds)
        async with db.connection(self._pool) as conn:
            claims = await store.claim_sends(conn, self._settings.worker_id, now, lease, CLAIM)
        await asyncio.gather(*(self._send_guarded(claim) for claim in claims))
        return len(claims)

    async def _send_guarded(self, claim: Record) -> None:
        """One send; whatever goes wrong outside the agency's answer (the database, a sealed
        value that will not open) puts it off like an agency's failure, named in its
        ``last_error``, instead of leaving it leased."""
        try:
            await self._send(claim)
        except Exception as exc:
            log.warning(
                "control_send_failed", control_id=claim["control_id"], error=type(exc).__name__
            )
            self._metrics.control_sends.labels("unknown", "error").inc()
            later = self._clock() + timedelta(seconds=self._backoff.delay(claim["attempts"]))
            try:
                async with db.connection(self._pool) as conn:
                    await store.send_retry(
                        conn, claim["id"], self._settings.worker_id, later, type(exc).__name__
                    )
            except DatabaseError:
                pass  # the lease runs out; the send is taken up again

    async def _send(self, claim: Record) -> None:
        async with db.connection(self._pool) as conn:
            ctx = await store.send_context(conn, claim["control_id"], claim["officer_id"])
        assert ctx is not None
        agency = ctx["agency"]
        try:
            answer = await self._ask(claim, ctx)
        except PermanentAgencyError as exc:
            code = exc.code if isinstance(exc, ControlRefused) else "rejected"
            self._metrics.control_sends.labels(agency, "refused").inc()
            if claim["operation"] == "status":  # a question not answered: the hold stands
                await self._record(claim, ctx, None)
            else:
                await self._record(claim, ctx, _refusal(claim["operation"], ctx, code, exc.reason))
            return
        except TransientAgencyError as exc:
            self._metrics.control_sends.labels(agency, "retry").inc()
            wait = self._backoff.delay(claim["attempts"], exc)
            later = self._clock() + timedelta(seconds=wait)
            async with db.connection(self._pool) as conn:
                await store.send_retry(
                    conn, claim["id"], self._settings.worker_id, later, type(exc).__name__
                )
            log.info(
                "control_send_retry", agency=agency, control_id=ctx["id"], error=type(exc).__name__
            )
            return
        self._metrics.control_sends.labels(agency, "answered").inc()
        await self._record(claim, ctx, _answered(claim["operation"], answer, self._clock()))

    async def _ask(self, claim: Record, ctx: Record) -> ControlAnswer:
        client = self._clients[ctx["agency"]]
        requester = Requester(ctx["officer"], ctx["team"], ctx["case_number"], str(ctx["batch_id"]))
        key = str(claim["idempotency_key"])
        operation = claim["operation"]
        if operation == "renew":
            return await client.renew(
                ctx["receipt_no"], key, claim["term_days"], claim["order_date"], requester
            )
        if operation == "release":
            return await client.release(ctx["receipt_no"], key, claim["order_date"], requester)
        if operation == "status":
            return await client.status(ctx["receipt_no"], requester, claim["order_date"])
        order = HoldOrder(
            idempotency_key=key,
            court=self._settings.court_name,
            case_number=ctx["case_number"],
            action=ctx["action"],
            subject=self._subject(ctx),
            asset=self._asset(ctx),
            term_days=claim["term_days"],
            amount=ctx["amount"],
            order_date=claim["order_date"],
        )
        return await client.hold(order, requester)

    def _subject(self, ctx: Record) -> Subject:
        batch_id, row, open_text = ctx["batch_id"], ctx["row"], self._cipher.open_text
        return Subject(
            open_text(ctx["name"], subject_context(batch_id, row, "name")),
            open_text(ctx["id_number"], subject_context(batch_id, row, "id")),
            ctx["kind"],
        )

    def _asset(self, ctx: Record) -> str:
        record = self._cipher.open_json(ctx["data"], result_context(ctx["inquiry_id"]))
        for identifier in asset_identifiers(ctx["agency"], record):
            if store.asset_digest(self._cipher, ctx["agency"], identifier) == ctx["asset_digest"]:
                return identifier
        raise LookupError("the control's asset is no longer in its record")

    async def _record(self, claim: Record, ctx: Record, answer: store.Answer | None) -> None:
        """The answer recorded with its audit record and history, once; ``None`` (or a
        question whose answer changes nothing): the send is only marked done."""
        now = self._clock()
        try:
            await self._record_once(claim, ctx, answer, now)
        finally:
            async with self._recorded:
                self.sent += 1
                self._recorded.notify_all()

    async def _record_once(
        self, claim: Record, ctx: Record, answer: store.Answer | None, now: datetime
    ) -> None:
        async with db.transaction_on(self._pool) as conn:
            # The control's row first, as the API's steps take it (then the send's): the
            # other order deadlocks with an officer's renewal or release.
            await store.lock(conn, ctx["id"])
            if not await store.send_done(conn, claim["id"], self._settings.worker_id, now):
                return  # the lease went to another replica, which records the answer
            if answer is None:
                return
            if claim["operation"] == "status":
                row = await store.line_moved(conn, ctx["id"], answer, now)
            else:
                row = await store.answered(conn, ctx["id"], answer, now)
            if row is None:
                if claim["operation"] != "status" and answer.refusal is None:
                    # The agency did it, but the control had moved on: say so, loudly.
                    log.warning(
                        "control_answer_not_applied", control_id=ctx["id"],
                        operation=claim["operation"], status=answer.status,
                    )  # fmt: skip
                    await store_audit.action(
                        conn, "control.answer_not_applied", officer_id=claim["officer_id"],
                        officer=ctx["officer"], team=ctx["team"], case_number=ctx["case_number"],
                        batch_id=ctx["batch_id"], outcome=answer.status,
                        detail={"control_id": ctx["id"], "operation": claim["operation"],
                                "receipt_no": answer.receipt_no},
                    )  # fmt: skip
                return  # nothing changed, or the control moved on (released meanwhile)
            step = _step(claim["operation"], answer)
            detail: dict[str, Any] = {
                "control_id": ctx["id"],
                "operation": claim["operation"],
                "status": answer.status,
                "receipt_no": answer.receipt_no,
                "position": answer.position,
                "expires_on": None if row["expires_on"] is None else row["expires_on"].isoformat(),
                # the agency's words may name the asset or the person: its code only
                "refusal": answer.refusal_code,
            }
            await store_audit.action(
                conn, f"control.{step}", officer_id=claim["officer_id"], officer=ctx["officer"],
                team=ctx["team"], case_number=ctx["case_number"], batch_id=ctx["batch_id"],
                outcome=answer.status, detail=detail,
            )  # fmt: skip
            history = {k: v for k, v in detail.items() if k != "control_id"}
            await store.case_event(
                conn, ctx["case_number"], now, f"control.{step}", batch_id=ctx["batch_id"],
                control_id=ctx["id"], detail=history,
            )  # fmt: skip
        self._metrics.control_steps.labels(ctx["action"], step).inc()
        async with self._recorded:
            self.answered[ctx["id"]] += 1
            self._recorded.notify_all()
        log.info("control_answered", agency=ctx["agency"], control_id=ctx["id"], step=step)


def _step(operation: str, answer: store.Answer) -> str:
    if answer.refusal is not None and answer.status not in ("refused", "expired"):
        return f"{operation}_refused"
    if operation == "renew" and answer.renewed:
        return "renewed"
    return answer.status


def _answered(operation: str, answer: ControlAnswer, now: datetime) -> store.Answer:
    status = _STATES[answer.state]
    return store.Answer(
        status=status,
        receipt_no=answer.receipt_no,
        position=answer.position if status == "queued_behind" else None,
        effective_on=answer.effective_on,
        expires_on=answer.expires_on,
        renewed=operation == "renew" and status == "in_effect",
        released_at=now if status == "released" else None,
    )


def _refusal(operation: str, ctx: Record, code: str, reason: str) -> store.Answer:
    """A refused hold is refused; a refused renewal or release leaves the hold as it was,
    unless the agency says it has lapsed."""
    if operation == "hold":
        return store.Answer(status="refused", refusal=reason, refusal_code=code)
    if code == "expired":
        return store.Answer(status="expired", refusal=reason, refusal_code=code)
    return store.Answer(status=ctx["status"], refusal=reason, refusal_code=code, stands=True)
