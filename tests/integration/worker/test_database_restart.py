"""PostgreSQL restarts (fast shutdown: every connection cut) while answers wait for their group
commit: they are kept in memory and committed once it is back. Every inquiry ends with exactly
one result and its audit record; nothing is lost and nothing is asked twice.

Runs on a PostgreSQL of its own (``restartable_pg``), not the session's shared server."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest

from connectors.base import Answer, Requester, Subject
from connectors.forestry import ForestryConnector
from gateway.http.keys import DISPATCHER
from mocks.population import sample_ids
from tests.conftest import RestartableDatabase
from tests.integration.worker.conftest import (
    StartGateway,
    agencies,
    assert_equal_to_truth,
    body,
    done_count,
    until,
)

SUBJECTS = 12
ASKED = ["household", "forestry"]


@pytest.fixture
def database_url(restartable_pg: RestartableDatabase) -> str:
    """The gateway runs on the database this test may restart."""
    return restartable_pg.url


async def test_answers_held_while_postgresql_restarts_are_recorded_once(
    start_gateway: StartGateway,
    mocks: Any,
    restartable_pg: RestartableDatabase,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The forestry bureau's answers come back over real HTTP, then wait here before they
    # reach the result writer: released only once the database is down.
    release = asyncio.Event()
    answered = 0
    query = ForestryConnector.query

    async def answered_then_held(
        self: ForestryConnector, subjects: Sequence[Subject], requester: Requester
    ) -> list[Answer]:
        nonlocal answered
        answers = await query(self, subjects, requester)
        answered += len(subjects)
        await release.wait()
        return answers

    monkeypatch.setattr(ForestryConnector, "query", answered_then_held)
    unlimited = {"max_rps": 0, "max_in_flight": SUBJECTS}
    gateway = await start_gateway(
        agencies=agencies(mocks.urls, household=unlimited, forestry=unlimited)
    )
    writer = gateway.client.app[DISPATCHER].writer
    created = await gateway.submit(body(sample_ids(SUBJECTS, seed=71, organisations=0), ASKED))
    batch_id = created["id"]

    async def running_with_answers_in_hand() -> bool:
        return answered == SUBJECTS and await done_count(gateway, batch_id) == SUBJECTS

    # The batch is running: household's answers are committed, forestry's are in hand.
    await until(running_with_answers_in_hand)
    assert await done_count(gateway, batch_id, "forestry") == 0

    await restartable_pg.stop("fast")
    with pytest.raises((OSError, asyncpg.PostgresError)):
        await asyncpg.connect(restartable_pg.url)  # it is down
    release.set()

    async def held_in_memory() -> bool:
        return writer.pending == SUBJECTS

    # The answers reach the writer, whose commits fail while the database is down: it keeps
    # them (a commit being tried takes them out of the buffer for a moment, hence a wait).
    await until(held_in_memory)
    await restartable_pg.start()

    await gateway.wait_finished(batch_id, timeout=60)
    results = await gateway.all_results(batch_id)
    assert len(results) == SUBJECTS * len(ASKED)
    assert_equal_to_truth(results, mocks)
    async with gateway.pool.acquire() as conn:
        per_inquiry = await conn.fetch(
            "SELECT count(r.inquiry_id) AS n FROM inquiries i "
            "LEFT JOIN results r ON r.inquiry_id = i.id WHERE i.batch_id = $1 GROUP BY i.id",
            batch_id,
        )
        audited = await conn.fetch(
            "SELECT agency, row FROM audit_log WHERE action = 'inquiry.result' AND batch_id = $1",
            batch_id,
        )
    assert len(per_inquiry) == SUBJECTS * len(ASKED)
    assert {row["n"] for row in per_inquiry} == {1}
    assert sorted((a["agency"], a["row"]) for a in audited) == sorted(
        (agency, row) for agency in ASKED for row in range(SUBJECTS)
    )
    # The held answers were recorded, not asked for again.
    assert all(r["attempts"] == 1 for r in results)
    assert mocks.stats("forestry")["requests"] == SUBJECTS
    assert writer.pending == 0
