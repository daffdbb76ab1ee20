"""Three replicas (``gateway serve`` processes) on one database share one batch: each asks
agencies for part of it, and every inquiry is answered exactly once, as the agency says."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp

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

SUBJECTS = 40
REPLICAS = 3
#: a few inquiries per claim, so that no replica takes the whole batch in one go
ENV = {"GATEWAY_CLAIM_CHUNK": "4"}


async def _calls_made(session: aiohttp.ClientSession, port: int) -> float:
    async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
        text = await response.text()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("gateway_agency_calls_total{")
    )


async def test_three_replicas_share_a_batch_and_answer_each_inquiry_once(
    database_url: str, mocks: Any, tmp_path: Path
) -> None:
    # household answers slowly, two at a time per replica: its inquiries spread over all three
    mocks.set_latency("household", "realistic")
    conn = await db.connect(database_url)
    try:
        token = await create_token(conn, officer="share-officer", role="officer", team="team-s")
        ports = [free_port() for _ in range(REPLICAS)]
        async with AsyncExitStack() as replicas, aiohttp.ClientSession() as session:
            for port in ports:
                await replicas.enter_async_context(
                    gateway_process(database_url, mocks.urls, port, tmp_path, env=ENV)
                )
            people = sample_ids(SUBJECTS, seed=37)
            batch_id = await post_batch(ports[0], token, batch_body(people, reason="多副本测试"))
            await until(batch_done(conn, batch_id), timeout=120)
            calls = [await _calls_made(session, port) for port in ports]
            results = await all_results(ports[1], token, batch_id)
        assert all(made > 0 for made in calls), calls  # each replica asked agencies
        # exactly once, whichever replica asked
        assert await answers_per_inquiry(conn, batch_id) == [1] * SUBJECTS * len(AGENCIES)
        assert sorted((r["subject"]["row"], r["agency"]) for r in results) == sorted(
            (row, agency) for row in range(SUBJECTS) for agency in AGENCIES
        )
        for result in results:  # the answers are the agencies' own
            expected = mocks.truth(
                result["agency"], result["subject"]["id_number"], case_number=CASE
            )
            assert result["data"] == expected, result["agency"]
    finally:
        await conn.close()
