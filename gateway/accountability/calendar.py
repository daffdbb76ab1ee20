"""The controls' calendar, run by the leader replica every GATEWAY_CONTROL_SECONDS (and by
tests, one round at a time, with an injected clock):

1. holds whose last day has passed are expired (the agency lets them lapse the same day);
2. holds in effect whose last day is within GATEWAY_EXPIRY_WINDOW_DAYS raise a
   ``control_expiring`` alert for their team, once per expiry date (a renewal moves it);
   holds waiting in line (轮候) are asked about once a day: one takes effect when the court
   before it releases;
3. 终本 cases due for a re-query get their batch (``closures``);
4. finished re-query batches are compared with what the case knew: ``new_assets``.

Each step is safe to run on several replicas at once (row locks skipped, idempotency keys,
an advance only from the round before), so a lead changing hands mid-round does no harm.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date, timedelta
from typing import Any

import structlog

from gateway.accountability import admission
from gateway.accountability.alerts import CONTROL_EXPIRING, NEW_ASSETS
from gateway.accountability.closures import (
    SYSTEM_PREFIX,
    debtor_subjects,
    due_on,
    new_assets_detail,
    record_step,
    remember_assets,
    requery_request,
    system_caller,
)
from gateway.accountability.control_records import ControlPolicy
from gateway.core.errors import DatabaseError, RequestError
from gateway.store import closures as store
from gateway.store import controls as store_controls
from gateway.store import db
from gateway.store import rules as store_rules
from gateway.store.db import Pool, Record
from gateway.store.leader import Leadership

log = structlog.get_logger("gateway.calendar")

#: closures re-queried per round (the rest wait for the next)
DUE_PER_ROUND = 50


class ControlCalendar:
    def __init__(self, policy: ControlPolicy, pool: Pool) -> None:
        self._policy = policy
        self._pool = pool
        # The schedule's batches are the system's, not a person's: the rules meant for
        # people (daily quota, off-hours and volume alerts) do not apply to them.
        settings = policy.settings.replace(
            quota_subjects_per_day=0, working_hours="", volume_alert_factor=0.0
        )
        self._admission = admission.AdmissionPolicy(
            settings, policy.cipher, policy.metrics, policy.clock
        )

    async def loop(self, leadership: Leadership) -> None:
        settings = self._policy.settings
        await leadership.while_leading(
            self.round, settings.control_seconds, settings.cluster_metrics_seconds,
            "control_calendar_failed",
        )  # fmt: skip

    async def round(self) -> dict[str, int]:
        """One pass of every step; how much each did."""
        done = {"expired": await self.expire(), "reminded": await self.remind()}
        done["lines_checked"] = await self.check_lines()
        done["requeried"] = await self.requery()
        done["compared"] = await self.compare()
        if any(done.values()):
            log.info("control_calendar", **done)
        return done

    async def expire(self) -> int:
        policy, now = self._policy, self._policy.clock()
        async with db.transaction_on(self._pool) as conn:
            rows = await store_controls.expire(conn, policy.today(), now)
            for r in rows:
                detail = {"control_id": r["id"], "expires_on": r["expires_on"].isoformat()}
                await record_step(
                    conn, None, "system:calendar", r["team"], r["case_number"], "control.expired",
                    detail, r["batch_id"],
                )  # fmt: skip
                await store_controls.case_event(
                    conn, r["case_number"], now, "control.expired", batch_id=r["batch_id"],
                    control_id=r["id"], detail={"expires_on": detail["expires_on"]},
                )  # fmt: skip
        for r in rows:
            policy.metrics.control_steps.labels(r["action"], "expired").inc()
        return len(rows)

    async def remind(self) -> int:
        policy, now = self._policy, self._policy.clock()
        today = policy.today()
        last = today + timedelta(days=policy.settings.expiry_window_days)
        async with db.transaction_on(self._pool) as conn:
            rows = await store_controls.to_remind(conn, today, last)
            for r in rows:
                detail = _reminder(r, today)
                await store_rules.insert_alert(
                    conn, now, CONTROL_EXPIRING, r["requested_by"], r["team_id"], r["batch_id"],
                    None, detail,
                )  # fmt: skip
                await record_step(
                    conn, None, "system:calendar", r["team"], r["case_number"],
                    "control.reminded", detail, r["batch_id"],
                )  # fmt: skip
        for r in rows:
            policy.metrics.alerts.labels(CONTROL_EXPIRING).inc()
            policy.metrics.control_steps.labels(r["action"], "reminded").inc()
        return len(rows)

    async def check_lines(self) -> int:
        """Once a day, ask the agency how each hold waiting in line stands (the court before
        may have released); the replicas' senders ask (``control_sender``)."""
        policy = self._policy
        async with db.connection(self._pool) as conn:
            asked = await store_controls.lines_to_check(conn, policy.today(), policy.clock())
        return len(asked)

    async def requery(self) -> int:
        policy = self._policy
        async with db.connection(self._pool) as conn:
            due = await store.due(conn, policy.today(), DUE_PER_ROUND)
        submitted = 0
        for closure in due:
            try:
                submitted += await self._requery_one(closure)
            except (DatabaseError, RequestError) as exc:  # one case's trouble stops no other
                log.warning("closure_requery_failed", error=type(exc).__name__)
        return submitted

    async def _requery_one(self, closure: Record) -> int:
        policy, case_number = self._policy, closure["case_number"]
        round_, generation = closure["rounds_done"] + 1, closure["generation"]
        team_id, team = closure["team_id"], closure["team"]
        async with db.connection(self._pool) as conn:  # committed before its batch names it
            officer_id = await store.system_officer(conn, SYSTEM_PREFIX + team, team_id)
        async with db.transaction_on(self._pool) as conn:
            # The closure's row is held from here to the round's record: a reopening waits
            # and finds the round done; a closure reopened (or a round taken) first is left.
            if not await store.claim_round(conn, case_number, generation, round_, policy.today()):
                return 0
            debtors = await store.debtors(conn, case_number)
            if not debtors:
                log.warning("closure_without_debtors", round=round_)
                return 0
            caller = system_caller(officer_id, team_id, team)
            request = requery_request(case_number, round_, debtor_subjects(policy, debtors))
            # The same round asked again (a crash before its record) is answered with the same
            # batch; a changed list of debtors makes a new one rather than a refused key.
            people = hashlib.sha256(b"".join(sorted(d["subject_digest"] for d in debtors)))
            key = f"closure:{case_number}:{generation}:{round_}:{people.hexdigest()[:16]}"
            submitted = await admission.submit(self._admission, self._pool, caller, request, key)
            last = round_ >= policy.settings.closure_rounds
            next_due = None if last else due_on(policy, closure["closed_on"], round_ + 1)
            now = policy.clock()
            if not await store.advance(
                conn, case_number, closure["generation"], round_, submitted.batch_id, next_due, now
            ):
                return 0  # another scheduler recorded this round
            detail = {
                "round": round_,
                "subjects": len(debtors),
                "next_due_on": None if next_due is None else next_due.isoformat(),
            }
            await record_step(
                conn, officer_id, caller.officer, team, case_number, "case.requeried", detail,
                submitted.batch_id,
            )  # fmt: skip
            await store_controls.case_event(
                conn, case_number, now, "case.requeried", batch_id=submitted.batch_id,
                detail=detail,
            )  # fmt: skip
        policy.metrics.closure_requeries.labels("batches").inc()
        return 1

    async def compare(self) -> int:
        compared = 0
        while await self._compare_one():
            compared += 1
        return compared

    async def _compare_one(self) -> bool:
        policy, now = self._policy, self._policy.clock()
        async with db.transaction_on(self._pool) as conn:
            rows = await store.to_compare(conn, 1)
            if not rows:
                return False
            batch = rows[0]
            case_number, round_ = batch["case_number"], batch["closure_round"]
            new: Counter[str] = await remember_assets(policy, conn, case_number, batch["id"])
            detail: dict[str, Any] = new_assets_detail(case_number, round_, new)
            if new:
                await store_rules.insert_alert(
                    conn, now, NEW_ASSETS, batch["officer_id"], batch["team_id"], batch["id"],
                    None, detail,
                )  # fmt: skip
                await store_controls.case_event(
                    conn, case_number, now, "case.new_assets", batch_id=batch["id"], detail=detail
                )
                await record_step(
                    conn, None, "system:calendar", batch["team"], case_number, "case.new_assets",
                    detail, batch["id"],
                )  # fmt: skip
            await store.compared(conn, batch["id"], now)
        if new:
            policy.metrics.alerts.labels(NEW_ASSETS).inc()
            policy.metrics.closure_requeries.labels("new_assets").inc(sum(new.values()))
        return True


def _reminder(row: Record, today: date) -> dict[str, Any]:
    return {
        "control_id": row["id"],
        "case_number": row["case_number"],
        "agency": row["agency"],
        "action": row["action"],
        "expires_on": row["expires_on"].isoformat(),
        "days_left": (row["expires_on"] - today).days,
    }
