"""A dispatching process killed mid-batch loses nothing and doubles nothing: after a restart
every inquiry has exactly one result, equal to the agencies' ground truth."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from connectors.registry import AGENCIES
from gateway.accountability.auth import create_token
from gateway.store import db
from mocks.population import sample_ids
from tests.conftest import CASE, batch_body
from tests.integration.processes import (
    all_results,
    answers_per_inquiry,
    batch_done,
    free_port,
    gateway_process,
    post_batch,
    until,
)


async def test_killed_dispatcher_work_is_resumed_exactly_once(
    database_url: str, mocks: Any, tmp_path: Path
) -> None:
    # Realistic household latency, two calls at a time (below): the kill lands mid-batch.
    mocks.set_latency("household", "realistic")
    conn = await db.connect(database_url)
    try:
        token = await create_token(conn, officer="crash-officer", role="officer", team="team-c")
        port = free_port()
        subjects = sample_ids(60, seed=21)
        total = len(subjects) * len(AGENCIES)
        async with gateway_process(database_url, mocks.urls, port, tmp_path) as first:
            batch_id = await post_batch(port, token, batch_body(subjects, reason="恢复测试"))

            async def some_recorded() -> bool:
                return await conn.fetchval("SELECT count(*) FROM results") >= 40

            await until(some_recorded, timeout=30)
            first.send_signal(signal.SIGKILL)
            await first.wait()
        recorded_before = await conn.fetchval("SELECT count(*) FROM results")
        assert recorded_before < total, "the batch finished before the kill; slow the mocks"

        port = free_port()
        async with gateway_process(database_url, mocks.urls, port, tmp_path):
            await until(batch_done(conn, batch_id), timeout=60)
            results = await all_results(port, token, batch_id)

        assert await answers_per_inquiry(conn, batch_id) == [1] * total
        assert len(results) == total
        assert len({(r["subject"]["row"], r["agency"]) for r in results}) == total
        for result in results:
            expected = mocks.truth(
                result["agency"], result["subject"]["id_number"], case_number=CASE
            )
            assert result["data"] == expected, result["agency"]
        results_audited = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'inquiry.result'"
        )
        assert results_audited == total
    finally:
        await conn.close()
