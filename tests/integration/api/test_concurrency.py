"""Races the real system meets: a cancel while results are being committed, and a client
retrying a submission before its first attempt has answered."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.accountability import admission
from gateway.store.batches import FEW_SUBJECTS
from tests.conftest import Gateway, batch_body


async def _results(gateway: Gateway, batch_id: str) -> int:
    async with gateway.pool.acquire() as conn:
        return int(
            await conn.fetchval("SELECT count(*) FROM results WHERE batch_id = $1", batch_id)
        )


async def test_cancelling_running_batches_never_stops_the_writer(gateway_factory: Any) -> None:
    # Cancels race the writer's commits over the same rows; PostgreSQL may pick the writer
    # as a deadlock victim, which it must survive (retry). Whether a deadlock happens in a
    # given run is timing: this checks the liveness that matters, every run.
    gateway: Gateway = await gateway_factory(approval_threshold=0)
    for round_ in range(4):
        created = await gateway.submit(batch_body(n=200, seed=100 + round_))
        # Cancel while results are being committed: wait for the first ones (a bounded poll
        # of another component's progress; no event is published per result).
        async with asyncio.timeout(30):
            while await _results(gateway, created["id"]) == 0:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        response = await gateway.client.post(
            f"/v1/batches/{created['id']}/cancel", headers=await gateway.headers()
        )
        assert response.status in (200, 409), await response.text()  # 409: it finished first
        async with gateway.pool.acquire() as conn:
            open_left = await conn.fetchval(
                "SELECT count(*) FROM inquiries WHERE batch_id = $1 "
                "AND state IN ('queued', 'leased')",
                created["id"],
            )
        assert open_left == 0
    # The writer survived every cancel: a later batch is still answered in full.
    after = await gateway.submit(batch_body(n=4, seed=7))
    await gateway.wait_finished(after["id"])
    assert await _results(gateway, after["id"]) == 4 * 6


async def test_simultaneous_retries_with_one_key_are_replays_not_violations(
    gateway_factory: Any,
) -> None:
    gateway = await gateway_factory(requery_days=30)
    body = batch_body(n=5, seed=12)
    responses = await asyncio.gather(
        *(gateway.submit(body, **{"Idempotency-Key": "retry-1"}) for _ in range(4))
    )
    assert len({r["id"] for r in responses}) == 1
    async with gateway.pool.acquire() as conn:
        intercepted = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'batch.intercepted'"
        )
        batches = await conn.fetchval("SELECT count(*) FROM batches")
    assert (intercepted, batches) == (0, 1)


async def test_a_retry_that_loses_the_race_at_insert_stores_nothing_of_its_own(
    gateway_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The team's lock makes the first look-up of the key see an earlier attempt; should one
    # still commit in between (a race past the lock), the batch row's unique key catches it,
    # and the subjects this attempt stored before are rolled back with it. (With the
    # re-query rule on, such a race is refused by it before the batch row, as it always was.)
    gateway = await gateway_factory(dispatch=False)
    rows = FEW_SUBJECTS + 1  # stored by COPY
    body = batch_body(n=rows, seed=13)
    first = await gateway.submit(body, **{"Idempotency-Key": "retry-2"})
    looked_up = []
    find = admission.store.find_idempotent

    async def missed_once(*args: Any) -> Any:
        looked_up.append(args[-1])
        return None if len(looked_up) == 1 else await find(*args)

    monkeypatch.setattr(admission.store, "find_idempotent", missed_once)
    again = await gateway.client.post(
        "/v1/batches",
        json=body,
        headers={**(await gateway.headers()), "Idempotency-Key": "retry-2"},
    )
    assert again.status == 202, await again.text()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await again.json())["id"] == first["id"]
    assert looked_up == ["retry-2", "retry-2"]  # missed, then found after the insert
    async with gateway.pool.acquire() as conn:
        subjects = await conn.fetchval("SELECT count(*) FROM subjects")
        batches = await conn.fetchval("SELECT count(*) FROM batches")
    assert (subjects, batches) == (rows, 1)
