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
from tests.integration.processes import all_results, free_port, gateway_process, until

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
            async with session.post(
                f"http://127.0.0.1:{ports[0]}/v1/batches",
                json=batch_body(people, reason="多副本测试"),
                headers={"Authorization": f"Bearer {token}"},
            ) as response:
                assert response.status == 202
                batch_id = (await response.json())["id"]

            async def finished() -> bool:
                status = await conn.fetchval("SELECT status FROM batches WHERE id = $1", batch_id)
                return status == "done"

            await until(finished, timeout=120)
            calls = [await _calls_made(session, port) for port in ports]
            results = await all_results(ports[1], token, batch_id)
        assert all(made > 0 for made in calls), calls  # each replica asked agencies
        rows = await conn.fetch(
            "SELECT i.row, i.agency, count(r.inquiry_id) AS n FROM inquiries i"
            " LEFT JOIN results r ON r.inquiry_id = i.id WHERE i.batch_id = $1"
            " GROUP BY i.id, i.row, i.agency",
            batch_id,
        )
        assert sorted((r["row"], r["agency"]) for r in rows) == sorted(
            (row, agency) for row in range(SUBJECTS) for agency in AGENCIES
        )
        assert {r["n"] for r in rows} == {1}  # exactly once, whichever replica asked
        assert len(results) == SUBJECTS * len(AGENCIES)
        for result in results:  # the answers are the agencies' own
            expected = mocks.truth(
                result["agency"], result["subject"]["id_number"], case_number=CASE
            )
            assert result["data"] == expected, result["agency"]
    finally:
        await conn.close()
