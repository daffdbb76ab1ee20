"""Retention (PIPL art. 19 and 47: personal data is kept no longer than its purpose needs).

A batch finished more than ``GATEWAY_RETENTION_DAYS`` ago loses its subjects' names and
identifiers and the agencies' records (migration 0015 says what stays: counts, statuses, the
statistics, and the keyed digests the audit log also holds, so ``gateway audit verify`` still
passes). Each purge is one audit record, ``batch.purged``, written when it begins; its values
are then erased a chunk per transaction (``gateway.store.retention``).

The leader replica purges every ``GATEWAY_PURGE_SECONDS``; ``gateway purge`` does the same
from the command line, and ``gateway purge --dry-run`` says what is due without changing
anything. Several purgers at once are safe: a batch's purge begins once (under its row's
lock), and erasing is the same however often it runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from gateway.core.metrics import Metrics
from gateway.core.settings import Settings
from gateway.store import retention
from gateway.store.db import Pool
from gateway.store.leader import Leadership
from gateway.store.retention import DueBatch, Purger

log = structlog.get_logger("gateway.retention")

#: batches looked at per round of a purge
ROUND = 100
#: most batches a dry run lists
DRY_RUN_LIMIT = 100_000
SCHEDULED = "system:retention"


@dataclass(slots=True)
class PurgeReport:
    """What a purge did, or (a dry run) would do."""

    finished_before: datetime
    batches: list[DueBatch] = field(default_factory=list[DueBatch])
    subjects: int = 0
    records: int = 0


def cutoff(settings: Settings, now: datetime) -> datetime:
    """Batches finished before this are due."""
    return now - timedelta(days=settings.retention_days)


async def dry_run(pool: Pool, settings: Settings, now: datetime) -> PurgeReport:
    before = cutoff(settings, now)
    due = await retention.due(pool, before, DRY_RUN_LIMIT)
    report = PurgeReport(before, due)
    report.subjects = sum(b.subjects for b in due)
    report.records = sum(b.records for b in due)
    return report


async def purge(
    pool: Pool,
    settings: Settings,
    now: datetime,
    actor: str,
    metrics: Metrics | None = None,
    going_on: Callable[[], bool] = lambda: True,
) -> PurgeReport:
    """Purge every batch due at ``now`` (first finishing purges cut short), while
    ``going_on()``; the batches this call began or finished."""
    before = cutoff(settings, now)
    report = PurgeReport(before)
    purger = Purger(actor, settings.retention_days)
    for batch_id in await retention.unfinished(pool):
        if not going_on():
            return report
        await _erase(pool, batch_id, report, metrics, going_on)
    while going_on():
        due = await retention.due(pool, before, ROUND)
        if not due:
            break
        for batch in due:
            if not going_on():
                break
            if await retention.begin(pool, batch, purger, before, now):
                report.batches.append(batch)
                if metrics is not None:
                    metrics.purged.labels(kind="batches").inc()
                await _erase(pool, batch.id, report, metrics, going_on)
    return report


async def _erase(
    pool: Pool,
    batch_id: uuid.UUID,
    report: PurgeReport,
    metrics: Metrics | None,
    going_on: Callable[[], bool],
) -> None:
    subjects, records = await retention.erase(pool, batch_id, going_on)
    report.subjects += subjects
    report.records += records
    if metrics is not None:
        metrics.purged.labels(kind="subjects").inc(subjects)
        metrics.purged.labels(kind="records").inc(records)
    log.info("batch_purged", batch_id=str(batch_id), subjects=subjects, records=records)


class ScheduledPurge:
    """Purges what is due while this replica leads, every GATEWAY_PURGE_SECONDS."""

    def __init__(
        self,
        pool: Pool,
        leadership: Leadership,
        settings: Settings,
        metrics: Metrics,
        clock: Callable[[], datetime],
    ) -> None:
        self._pool = pool
        self._leadership = leadership
        self._settings = settings
        self._metrics = metrics
        self._clock = clock

    async def loop(self) -> None:
        await self._leadership.while_leading(
            self.round,
            self._settings.purge_seconds,
            self._settings.cluster_metrics_seconds,
            "retention_purge_failed",
        )

    async def round(self) -> PurgeReport:
        return await purge(
            self._pool,
            self._settings,
            self._clock(),
            SCHEDULED,
            self._metrics,
            lambda: self._leadership.leading,
        )
