"""Retention: a batch finished longer ago than GATEWAY_RETENTION_DAYS loses its names,
identifiers and agency records; its counts, the statistics and the audit chain stay.

Batches are run end to end against the stand-in agencies, then made old by moving their
finish back in the database (the purge reads finished_at; nothing else about them changes).
"""

from __future__ import annotations

import asyncio
import getpass
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.accountability import audit, retention
from gateway.core.settings import Settings
from gateway.http.app import CIPHER
from gateway.store import retention as store_retention
from gateway.store import rotation
from gateway.store.retention import Purger
from tests.conftest import Gateway, batch_body, gateway_command
from tests.integration.accountability.helpers import metric
from tests.integration.processes import until

DAYS = 180


@pytest.fixture
async def gateway(gateway_factory: Any) -> Gateway:
    """A gateway whose own scheduled purge never finds anything due (its retention is far
    longer), so each test purges when it chooses, with ``_settings``."""
    return await gateway_factory(retention_days=100 * DAYS)


def _settings(gateway: Gateway) -> Settings:
    return gateway.settings.replace(retention_days=DAYS)


async def _finished_batch(gateway: Gateway, seed: int, n: int = 3) -> str:
    batch = await gateway.submit(batch_body(n=n, seed=seed))
    await gateway.wait_finished(batch["id"])
    return str(batch["id"])


async def _age(pool: asyncpg.Pool, batch_id: str, days: int) -> None:
    await pool.execute(
        "UPDATE batches SET finished_at = now() - make_interval(days => $2) WHERE id = $1",
        uuid.UUID(batch_id),
        days,
    )


async def _kept(pool: asyncpg.Pool, batch_id: str) -> tuple[int, int, int]:
    """(subjects with a name, with an identifier, results with an agency record)."""
    row = await pool.fetchrow(
        "SELECT (SELECT count(name) FROM subjects WHERE batch_id = $1) AS names,"
        " (SELECT count(id_number) FROM subjects WHERE batch_id = $1) AS ids,"
        " (SELECT count(data) FROM results WHERE batch_id = $1) AS records",
        uuid.UUID(batch_id),
    )
    assert row is not None
    return row["names"], row["ids"], row["records"]


async def _purge_records(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT batch_id, officer, outcome, detail FROM audit_log"
        " WHERE action = 'batch.purged' ORDER BY seq"
    )


async def _statistics(gateway: Gateway) -> dict[str, Any]:
    response = await gateway.client.get(
        "/v1/stats", headers=await gateway.headers("commander", None)
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    for counts in body["agencies"].values():  # moving windows, not the stored counts
        counts.pop("completed_last_minute")
        counts.pop("completed_last_hour")
    return body


async def test_purge_erases_personal_data_and_keeps_counts_statistics_and_chain(
    gateway: Gateway,
) -> None:
    old = await _finished_batch(gateway, seed=11)
    recent = await _finished_batch(gateway, seed=12)
    await _age(gateway.pool, old, DAYS + 1)
    await _age(gateway.pool, recent, DAYS - 1)
    reason = "再次查询：张三名下新增房产线索"  # free text naming a person
    await gateway.pool.execute(
        "UPDATE batches SET requery_reason = $2, decision_note = $2 WHERE id = ANY ($1::uuid[])",
        [uuid.UUID(old), uuid.UUID(recent)],
        reason,
    )
    officer = await gateway.headers()
    before_batch = await (await gateway.client.get(f"/v1/batches/{old}", headers=officer)).json()
    before_stats = await _statistics(gateway)
    recent_kept = await _kept(gateway.pool, recent)
    assert (await _kept(gateway.pool, old))[:2] == (3, 3)

    report = await retention.purge(gateway.pool, _settings(gateway), datetime.now(UTC), "test")

    assert [str(b.id) for b in report.batches] == [old]
    assert report.subjects == 3
    assert await _kept(gateway.pool, old) == (0, 0, 0)
    assert await _kept(gateway.pool, recent) == recent_kept
    reasons = await gateway.pool.fetch(
        "SELECT id, requery_reason, decision_note FROM batches WHERE id = ANY ($1::uuid[])",
        [uuid.UUID(old), uuid.UUID(recent)],
    )
    assert {str(r["id"]): (r["requery_reason"], r["decision_note"]) for r in reasons} == {
        old: (None, None),
        recent: (reason, reason),
    }
    after_batch = await (await gateway.client.get(f"/v1/batches/{old}", headers=officer)).json()
    assert after_batch["purged_at"] is not None
    assert after_batch["progress"] == before_batch["progress"]
    assert after_batch["subject_count"] == before_batch["subject_count"] == 3
    assert await _statistics(gateway) == before_stats
    exports = [f"/v1/batches/{old}/results?format={f}" for f in ("xlsx", "csv", "jsonl", "photos")]
    for path in (f"/v1/batches/{old}/results", f"/v1/batches/{old}/results.xlsx", *exports):
        gone = await gateway.client.get(path, headers=officer)
        assert gone.status == 410
        assert (await gone.json())["error"]["code"] == "gone"
    rerun = await gateway.client.post(f"/v1/batches/{old}/rerun", headers=officer)
    assert rerun.status == 410
    assert (await gateway.client.get(f"/v1/batches/{recent}/results", headers=officer)).ok

    records = await _purge_records(gateway.pool)
    assert [(str(r["batch_id"]), r["officer"], r["outcome"]) for r in records] == [
        (old, "test", "purged")
    ]
    async with gateway.pool.acquire() as conn:
        verification = await audit.verify(conn)
    assert verification.first_broken is None
    # Key rotation walks every sealed value: purged ones (NULL) are passed over.
    rotated = await rotation.rotate(gateway.pool, gateway.client.app[CIPHER])
    assert rotated.subjects == rotated.results == 0

    again = await retention.purge(gateway.pool, _settings(gateway), datetime.now(UTC), "test")
    assert (again.batches, again.subjects, again.records) == ([], 0, 0)
    assert len(await _purge_records(gateway.pool)) == 1


async def test_dry_run_lists_what_is_due_and_changes_nothing(gateway: Gateway) -> None:
    old = await _finished_batch(gateway, seed=21, n=4)
    await _age(gateway.pool, old, DAYS + 30)
    kept = await _kept(gateway.pool, old)

    report = await retention.dry_run(gateway.pool, _settings(gateway), datetime.now(UTC))

    assert [(str(b.id), b.subjects, b.records) for b in report.batches] == [(old, 4, kept[2])]
    assert await _kept(gateway.pool, old) == kept
    assert await _purge_records(gateway.pool) == []


async def test_purgers_at_once_audit_and_erase_each_batch_once(gateway: Gateway) -> None:
    old = [await _finished_batch(gateway, seed=30 + i) for i in range(3)]
    for batch_id in old:
        await _age(gateway.pool, batch_id, DAYS + 2)
    now = datetime.now(UTC)

    reports = await asyncio.gather(
        *(retention.purge(gateway.pool, _settings(gateway), now, f"replica-{i}") for i in range(3))
    )

    began = sorted(str(b.id) for r in reports for b in r.batches)
    assert began == sorted(old)
    assert sorted(str(r["batch_id"]) for r in await _purge_records(gateway.pool)) == sorted(old)
    for batch_id in old:
        assert await _kept(gateway.pool, batch_id) == (0, 0, 0)


async def test_a_purge_cut_short_is_finished_by_the_next(gateway: Gateway) -> None:
    old = await _finished_batch(gateway, seed=41)
    await _age(gateway.pool, old, DAYS + 3)
    now = datetime.now(UTC)
    cutoff = retention.cutoff(_settings(gateway), now)
    [due] = await store_retention.due(gateway.pool, cutoff, 10)
    # The purge begins (marked and audited), then its process dies before erasing.
    assert await store_retention.begin(gateway.pool, due, Purger("crashed", DAYS), cutoff, now)
    gone = await gateway.client.get(f"/v1/batches/{old}/results", headers=await gateway.headers())
    assert gone.status == 410
    assert (await _kept(gateway.pool, old))[:2] == (3, 3)

    report = await retention.purge(gateway.pool, _settings(gateway), now, "next")

    assert report.batches == []  # begun before, finished now
    assert report.subjects == 3
    assert await _kept(gateway.pool, old) == (0, 0, 0)
    assert [r["officer"] for r in await _purge_records(gateway.pool)] == ["crashed"]
    pending = await gateway.pool.fetchval(
        "SELECT purge_pending FROM batches WHERE id = $1", uuid.UUID(old)
    )
    assert pending is False


async def test_a_batch_still_being_answered_is_not_purged(gateway: Gateway) -> None:
    old = await _finished_batch(gateway, seed=51)
    await _age(gateway.pool, old, DAYS + 5)
    # An inquiry still out with an agency (a finished batch has none: the purge checks all
    # the same, as it would take the names the call needs).
    await gateway.pool.execute(
        "UPDATE inquiries SET state = 'leased' WHERE id = (SELECT min(id) FROM inquiries"
        " WHERE batch_id = $1)",
        uuid.UUID(old),
    )

    report = await retention.purge(gateway.pool, _settings(gateway), datetime.now(UTC), "test")

    assert report.batches == []
    assert (await _kept(gateway.pool, old))[:2] == (3, 3)


async def test_the_leader_purges_on_its_schedule(gateway_factory: Any) -> None:
    gateway: Gateway = await gateway_factory(
        retention_days=DAYS, purge_seconds=0.1, leader_seconds=0.05
    )
    old = await _finished_batch(gateway, seed=61)
    await _age(gateway.pool, old, DAYS + 1)

    async def purged() -> bool:
        # counted once the batch's purge is over (not exported before the first)
        try:
            return await metric(gateway, "gateway_retention_purged_total", kind="subjects") == 3
        except AssertionError:
            return False

    await until(purged, 30)
    assert await _kept(gateway.pool, old) == (0, 0, 0)
    [record] = await _purge_records(gateway.pool)
    assert record["officer"] == retention.SCHEDULED
    assert await metric(gateway, "gateway_retention_purged_total", kind="batches") == 1


async def test_the_purge_command(gateway: Gateway, tmp_path: Path) -> None:
    old = await _finished_batch(gateway, seed=71)
    await _age(gateway.pool, old, DAYS + 10)

    code, out, err = await gateway_command(gateway.database_url, tmp_path, "purge", "--dry-run")
    assert code == 0, err
    assert old in out
    assert "dry run: nothing was changed" in out
    assert (await _kept(gateway.pool, old))[:2] == (3, 3)

    code, out, err = await gateway_command(gateway.database_url, tmp_path, "purge")
    assert code == 0, err
    assert "purged: 1 batches, 3 subjects" in out
    assert await _kept(gateway.pool, old) == (0, 0, 0)
    [record] = await _purge_records(gateway.pool)
    assert record["officer"] == f"cli:{getpass.getuser()}"
