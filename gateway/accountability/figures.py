"""The cluster-wide figures: counted from the durable records by the leader replica only
(``gateway.store.leader``), so that Prometheus, scraping every replica, does not count them
once per replica; every other replica exports none of their samples.

Exported every ``GATEWAY_CLUSTER_METRICS_SECONDS``:

- ``gateway_queue_depth{agency,state}``: unanswered inquiries, queued (to be asked), leased
  (being asked) or held (their batch awaits a commander's approval);
- ``gateway_inquiries_waiting{agency}``, ``gateway_inquiries_late{agency}``: waiting after a
  failed attempt; unanswered longer than ``GATEWAY_WAITING_WARNING``;
- ``gateway_batches{status}``: every batch by status;
- ``gateway_detentions_assisted{agency="police"}``: police results found, each one a request
  for detention assistance the station took (``accepted`` or ``dispatched``);
- ``gateway_audit_chain_length``: the records in the audit chain (its head's seq).

Every ``GATEWAY_AUDIT_VERIFY_SECONDS``, and at once when a replica becomes the leader, the
whole audit chain is verified (:func:`gateway.accountability.audit.verify`):
``gateway_audit_chain_verified`` (1 intact, 0 broken), ``gateway_audit_verification_records``
and ``gateway_audit_verification_timestamp_seconds``. A broken chain is also logged, naming
the first broken record.

Every replica exports ``gateway_cluster_leader``: 1 on the leader, 0 elsewhere.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog

from connectors.controls import ACTIONS
from gateway.accountability import audit
from gateway.core.errors import DatabaseError
from gateway.core.metrics import Metrics
from gateway.core.settings import Settings
from gateway.store import controls as store_controls
from gateway.store import db, figures, inquiries
from gateway.store.db import Pool
from gateway.store.leader import Leadership

log = structlog.get_logger("gateway.figures")

#: every status a batch can have (migration 0003), each exported even when no batch has it
BATCH_STATUSES = ("pending_approval", "queued", "running", "done", "cancelled", "rejected")
#: the agency whose found answers are detentions assisted
ASSISTING_AGENCY = "police"
QUEUE_STATES = ("queued", "leased", "held")


class ClusterFigures:
    """Reads the cluster-wide figures and exports them while this replica leads."""

    def __init__(
        self,
        pool: Pool,
        leadership: Leadership,
        settings: Settings,
        metrics: Metrics,
        agencies: Sequence[str],
        clock: Callable[[], datetime],
    ) -> None:
        self._pool = pool
        self._leadership = leadership
        self._settings = settings
        self._metrics = metrics
        self._agencies = list(agencies)
        self._clock = clock
        # One round at a time, so an older round never overwrites a newer one's figures.
        self._counting = asyncio.Lock()
        self._verifying = asyncio.Lock()

    async def export_loop(self) -> None:
        """Count and export while leading, every GATEWAY_CLUSTER_METRICS_SECONDS; export
        nothing while not (and at once when the lead changes)."""
        while True:
            leading = self._leadership.leading
            self._metrics.cluster_leader.set(1 if leading else 0)
            if leading:
                try:
                    await self.refresh()
                except DatabaseError as exc:
                    log.warning("cluster_figures_failed", error=type(exc).__name__)
            else:
                self.clear()
            await self._leadership.wait_change(leading, self._settings.cluster_metrics_seconds)

    async def verify_loop(self) -> None:
        """Verify the audit chain when this replica becomes the leader, then every
        GATEWAY_AUDIT_VERIFY_SECONDS while it leads (sooner again after a failed try)."""
        await self._leadership.while_leading(
            self.verify,
            self._settings.audit_verify_seconds,
            self._settings.cluster_metrics_seconds,
            "audit_verification_failed",
            self.clear_verification,
        )

    async def refresh(self) -> bool:
        """One round now: count and export, if this replica leads; whether it did."""
        async with self._counting:
            if not self._leadership.leading:
                return False
            async with db.connection(self._pool) as conn:
                depth = await figures.queue_depth(conn)
                waiting = await inquiries.waiting(
                    conn, self._settings.waiting_warning, self._clock()
                )
                batches = await figures.batches_by_status(conn)
                assisted = await figures.detentions_assisted(conn)
                head = await audit.read_head(conn)
                holds = await store_controls.in_effect_by_action(conn)
                now = self._clock()
                window = timedelta(days=self._settings.expiry_window_days)
                today = now.astimezone(ZoneInfo(self._settings.timezone)).date()
                orders = await store_controls.cluster_figures(conn, now, today + window)
            if not self._leadership.leading:  # the lead went elsewhere meanwhile
                return False
            self._export(depth, waiting, batches, assisted, head.seq)
            for action in ACTIONS:
                self._metrics.controls_in_effect.labels(action).set(holds.get(action, 0))
            self._metrics.controls_expiring.set(orders["expiring"])
            self._metrics.control_order_age.set(orders["oldest_order_seconds"])
            return True

    def _export(
        self,
        depth: list[db.Record],
        waiting: list[db.Record],
        batches: dict[str, int],
        assisted: int,
        chain_length: int,
    ) -> None:
        metrics = self._metrics
        queue = {row["agency"]: row for row in depth}
        late = {row["agency"]: row for row in waiting}
        for agency in sorted({*self._agencies, *queue, *late}):
            row = queue.get(agency)
            for state in QUEUE_STATES:
                metrics.queue_depth.labels(agency, state).set(row[state] if row else 0)
            row = late.get(agency)
            metrics.inquiries_waiting.labels(agency).set(row["waiting"] if row else 0)
            metrics.inquiries_late.labels(agency).set(row["late"] if row else 0)
        for status in sorted({*BATCH_STATUSES, *batches}):
            metrics.batches.labels(status).set(batches.get(status, 0))
        metrics.detentions_assisted.labels(ASSISTING_AGENCY).set(assisted)
        metrics.audit_chain_length.set(chain_length)

    def clear(self) -> None:
        """Export none of the counted figures (this replica does not lead)."""
        metrics = self._metrics
        for gauge in (
            metrics.queue_depth,
            metrics.inquiries_waiting,
            metrics.inquiries_late,
            metrics.batches,
            metrics.detentions_assisted,
            metrics.controls_in_effect,
        ):
            gauge.clear()
        metrics.audit_chain_length.clear()
        metrics.controls_expiring.clear()
        metrics.control_order_age.clear()

    async def verify(self) -> audit.Verification | None:
        """Verify the whole audit chain now and export the result, if this replica leads:
        the verification, or None."""
        async with self._verifying:
            if not self._leadership.leading:
                return None
            started = time.monotonic()
            async with db.connection(self._pool) as conn:
                result = await audit.verify(conn)
            if not self._leadership.leading:
                return None
            metrics = self._metrics
            metrics.audit_chain_verified.set(1 if result.ok else 0)
            metrics.audit_verification_records.set(result.checked)
            metrics.audit_verification_time.set(time.time())
            seconds = round(time.monotonic() - started, 3)
            if result.first_broken is None:
                log.info("audit_chain_verified", records=result.checked, seconds=seconds)
            else:
                log.error(
                    "audit_chain_broken",
                    seq=result.first_broken.seq,
                    reason=result.first_broken.reason,
                    message=result.first_broken.message,
                )
            return result

    def clear_verification(self) -> None:
        metrics = self._metrics
        metrics.audit_chain_verified.clear()
        metrics.audit_verification_records.clear()
        metrics.audit_verification_time.clear()
