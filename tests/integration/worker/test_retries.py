"""Retries through the dispatcher, read from the schedule the gateway keeps in PostgreSQL and
the requests the agency saw (never from a wall clock): a ``Retry-After`` longer than
``GATEWAY_MAX_INLINE_WAIT`` gives the inquiry back to the queue, due no earlier than the agency
asked; a permanent refusal (4xx other than 429) is asked once."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import aiohttp

from connectors.base import Requester
from mocks.population import sample_ids
from tests.conftest import Gateway
from tests.integration.worker.conftest import (
    CASE,
    StartGateway,
    agencies,
    assert_equal_to_truth,
    body,
    until,
)

UNLIMITED = {"max_rps": 0}


async def retry_after_asked(mocks: Any) -> float:
    """What the vehicle office says in ``Retry-After`` when it refuses with 429 (its word, not
    the gateway's)."""
    headers = Requester("probe", "probe", CASE, "probe").headers()
    url = mocks.urls["vehicle"] + "/v1/vehicles/query"
    payload = {"subjects": [{"id_number": sample_ids(1, seed=1, organisations=0)[0][1]}]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=payload, headers=headers) as response,
    ):
        assert response.status == 429
        return float(response.headers["Retry-After"])


async def inquiry_row(gateway: Gateway, batch_id: str) -> Any:
    async with gateway.pool.acquire() as conn:
        return await conn.fetchrow(
            "SELECT id, state, lease_owner, attempts, not_before, not_before > now() AS later "
            "FROM inquiries WHERE batch_id = $1",
            batch_id,
        )


async def test_a_long_retry_after_gives_the_inquiry_back_until_the_time_asked(
    start_gateway: StartGateway, mocks: Any
) -> None:
    mocks.set_faults("vehicle", {"429": 1.0})
    asked = await retry_after_asked(mocks)
    probes = mocks.stats("vehicle")["requests"]
    gateway = await start_gateway(
        agencies=agencies(mocks.urls, vehicle=UNLIMITED),
        max_inline_wait=asked / 2,  # the agency asks for longer than the gateway sits on a lease
        max_attempts=20,
    )
    created = await gateway.submit(body(sample_ids(1, seed=81, organisations=0), ["vehicle"]))
    batch_id = created["id"]

    # Refused: handed back to the queue, lease released, due later (not slept on).
    async def handed_back() -> bool:
        row = await inquiry_row(gateway, batch_id)
        return row["state"] == "queued" and row["attempts"] >= 1 and row["later"]

    await until(handed_back, timeout=30, interval=0.01)
    row = await inquiry_row(gateway, batch_id)
    assert row["lease_owner"] is None
    # each attempt so far was one request, and none more is made while it waits
    assert mocks.stats("vehicle")["requests"] - probes == row["attempts"]

    mocks.set_faults("vehicle", {})
    await gateway.wait_finished(batch_id, timeout=30)
    results = await gateway.all_results(batch_id)
    assert_equal_to_truth(results, mocks)

    async with gateway.pool.acquire() as conn:
        final = await conn.fetchrow(
            "SELECT id, attempts, not_before FROM inquiries WHERE batch_id = $1", batch_id
        )
        dispatched = [
            r["at"]
            for r in await conn.fetch(
                "SELECT at FROM audit_log WHERE action = 'inquiry.dispatched' AND batch_id = $1 "
                "ORDER BY seq",
                batch_id,
            )
        ]
    stats = mocks.stats("vehicle")
    claims = len(dispatched)
    assert claims >= 2  # refused, then claimed again once due
    # One request per claim: every wait was spent in the queue, none inline.
    assert stats["requests"] - probes == claims == final["attempts"] == results[0]["attempts"]
    assert stats["by_status"] == {"429": probes + claims - 1, "200": 1}
    # The schedule: each claim at least Retry-After after the one before it, and the last
    # one not before the inquiry was due.
    gaps = [(b - a).total_seconds() for a, b in pairwise(dispatched)]
    assert min(gaps) >= asked, gaps
    assert dispatched[-1] >= final["not_before"]


async def test_a_permanent_refusal_is_asked_once(start_gateway: StartGateway, mocks: Any) -> None:
    mocks.set_faults("vehicle", {"400": 1.0})
    gateway = await start_gateway(agencies=agencies(mocks.urls, vehicle=UNLIMITED), max_attempts=4)
    subjects = sample_ids(3, seed=83)
    created = await gateway.submit(body(subjects, ["vehicle"]))
    await gateway.wait_finished(created["id"], timeout=30)

    results = await gateway.all_results(created["id"])
    assert len(results) == len(subjects)
    for result in results:
        assert result["status"] == "failed" and result["attempts"] == 1
        assert result["error"].startswith("vehicle:") and "400" in result["error"]
    # The three went as one group: one request, refused, never asked again.
    stats = mocks.stats("vehicle")
    assert stats["requests"] == 1
    assert stats["by_status"] == {"400": 1}
