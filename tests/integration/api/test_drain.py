"""Graceful drain: on SIGTERM a replica fails its readiness probe, stops claiming, lets the
calls in flight end until its deadline, hands back what is left and exits. Another replica
then finishes the batch at once, with no lease to wait out (the lease here is ten minutes),
and nothing is recorded twice."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import aiohttp

from connectors.registry import AGENCIES
from gateway.accountability.auth import create_token
from gateway.store import db
from mocks.population import sample_ids
from tests.conftest import batch_body
from tests.integration.processes import (
    answers_per_inquiry,
    batch_done,
    free_port,
    gateway_process,
    post_batch,
    until,
)

SUBJECTS = 10
ENV = {
    "GATEWAY_LEASE_SECONDS": "600",  # a replica waiting out a lease would time the test out
    "GATEWAY_DRAIN_SECONDS": "3",
    "GATEWAY_AGENCY_HOUSEHOLD_TIMEOUT": "300",  # a hung call stays in flight until the drain
}


async def test_sigterm_drains_and_hands_back_without_a_lease_wait(
    database_url: str, mocks: Any, tmp_path: Path
) -> None:
    mocks.set_faults("household", {"hang": 1.0})  # every household call in flight for ever
    conn = await db.connect(database_url)
    try:
        token = await create_token(conn, officer="drain-officer", role="officer", team="team-d")
        port = free_port()
        async with (
            gateway_process(database_url, mocks.urls, port, tmp_path, env=ENV) as first,
            aiohttp.ClientSession() as session,
        ):
            body = batch_body(sample_ids(SUBJECTS, seed=31), reason="停机测试")
            batch_id = await post_batch(port, token, body)

            async def others_answered_household_in_flight() -> bool:
                answered = await conn.fetchval("SELECT count(*) FROM results")
                leased = await conn.fetchval(
                    "SELECT count(*) FROM inquiries WHERE agency = 'household' AND state = 'leased'"
                )
                return answered == SUBJECTS * (len(AGENCIES) - 1) and leased > 0

            await until(others_answered_household_in_flight, timeout=60)
            first.send_signal(signal.SIGTERM)

            async def draining() -> bool:
                async with session.get(f"http://127.0.0.1:{port}/readyz") as ready:
                    return ready.status == 503 and (await ready.json())["status"] == "draining"

            await until(draining, timeout=10)  # the drain lasts 3 s: the hung calls
            assert await asyncio.wait_for(first.wait(), 60) == 0
        # nothing is left leased by the stopped replica: handed back, not left to expire
        assert await conn.fetchval("SELECT count(*) FROM inquiries WHERE state = 'leased'") == 0
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM inquiries WHERE agency = 'household' AND state = 'queued'"
            )
            == SUBJECTS
        )

        mocks.set_faults("household", {})
        port = free_port()
        async with gateway_process(database_url, mocks.urls, port, tmp_path, env=ENV):
            await until(batch_done(conn, batch_id), timeout=60)
        assert await answers_per_inquiry(conn, batch_id) == [1] * SUBJECTS * len(AGENCIES)
    finally:
        mocks.set_faults("household", {})
        await conn.close()
