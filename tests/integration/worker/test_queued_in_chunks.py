"""A large list's inquiries are stored after the 202, a chunk per
transaction: every subject is asked exactly once per agency, the batch is not done before the
last chunk, and a batch cancelled meanwhile gets its remaining rows as cancelled, never asked.

The chunk is made 3 subjects (instead of 2,000) so that a list of 10 is "large": none of
its inquiries is stored with it."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.accountability import alerts
from gateway.http.keys import SETTINGS
from gateway.store import batches, db, inquiries
from mocks.population import sample_ids
from tests.conftest import Gateway
from tests.integration.worker.conftest import StartGateway, agencies, body

CHUNK = 3
AGENCIES = ["forestry", "vehicle"]


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batches, "QUEUE_CHUNK", CHUNK)


async def _inquiry_rows(api: Gateway, batch_id: str) -> list[tuple[int, str, str]]:
    rows = await api.pool.fetch(
        "SELECT row, agency, state FROM inquiries WHERE batch_id = $1 ORDER BY id", batch_id
    )
    return [(r["row"], r["agency"], r["state"]) for r in rows]


async def test_every_subject_of_a_large_list_is_asked_once_per_agency(
    start_gateway: StartGateway, mocks: Any
) -> None:
    api = await start_gateway(agencies=agencies(mocks.urls))
    people = sample_ids(10, seed=61, organisations=0)
    batch = await api.submit(body(people, AGENCIES))
    # the 202 counts every subject, stored or not yet
    assert {a: p["total"] for a, p in batch["progress"].items()} == dict.fromkeys(AGENCIES, 10)
    await api.wait_finished(batch["id"])
    rows = await _inquiry_rows(api, batch["id"])
    assert sorted((row, agency) for row, agency, _ in rows) == sorted(
        (row, agency) for row in range(10) for agency in AGENCIES
    )
    results = await api.all_results(batch["id"])
    assert len(results) == 20
    assert {r["subject"]["id_number"] for r in results} == {i for _, i in people}


async def test_the_batch_is_not_done_before_its_last_chunk_and_a_cancel_is_kept(
    start_gateway: StartGateway, mocks: Any
) -> None:
    # no worker: the chunks are stored here, one call at a time
    api = await start_gateway(dispatch=False, agencies=agencies(mocks.urls))
    batch = await api.submit(body(sample_ids(10, seed=62, organisations=0), AGENCIES))
    batch_id = batch["id"]
    assert await _inquiry_rows(api, batch_id) == []  # all of them after the 202
    deadlines = api.client.app[SETTINGS].answer_deadlines
    async with db.transaction_on(api.pool) as conn:
        assert await batches.queue_chunk(conn, CHUNK, deadlines) is not None
    assert len(await _inquiry_rows(api, batch_id)) == CHUNK * len(AGENCIES)

    # Every stored inquiry answered: still not done, subjects are left to queue.
    async with api.pool.acquire() as conn:
        claimed = await inquiries.claim(conn, "forestry", 100, "w", 60.0)
        claimed += await inquiries.claim(conn, "vehicle", 100, "w", 60.0)
    assert len(claimed) == CHUNK * len(AGENCIES)
    await api.pool.execute("UPDATE inquiries SET state = 'done' WHERE batch_id = $1", batch_id)
    async with api.pool.acquire() as conn:
        assert await inquiries.finish_batches(conn, [batch_id]) == []

    async with db.transaction_on(api.pool) as conn:
        queued = await batches.queue_chunk(conn, CHUNK, deadlines)
    assert queued is not None and str(queued["id"]) == batch_id
    assert len(await _inquiry_rows(api, batch_id)) == 2 * CHUNK * len(AGENCIES)

    # Cancelled meanwhile: the rest are stored, every one cancelled.
    response = await api.client.post(f"/v1/batches/{batch_id}/cancel", headers=await api.headers())
    assert response.status == 200, await response.text()
    while True:
        async with db.transaction_on(api.pool) as conn:
            if await batches.queue_chunk(conn, CHUNK, deadlines) is None:
                break
    rows = await _inquiry_rows(api, batch_id)
    assert sorted({row for row, _, _ in rows}) == list(range(10))
    assert len(rows) == 10 * len(AGENCIES)
    assert [state for row, _, state in rows if row >= 2 * CHUNK] == ["cancelled"] * (
        (10 - 2 * CHUNK) * len(AGENCIES)
    )
    assert (
        await api.pool.fetchval("SELECT status FROM batches WHERE id = $1", batch_id) == "cancelled"
    )


async def test_a_failing_check_with_the_first_chunk_does_not_hold_the_list_back(
    start_gateway: StartGateway, mocks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing(conn: Any, _batch: Any, _now: Any) -> list[str]:
        await conn.execute("SELECT 1 / 0")  # the check's query fails (an alert never blocks)
        return []

    monkeypatch.setattr(alerts, "first_chunk_alerts", lambda _settings: failing)
    api = await start_gateway(agencies=agencies(mocks.urls))
    batch = await api.submit(body(sample_ids(10, seed=63, organisations=0), AGENCIES))
    await api.wait_finished(batch["id"])
    rows = await _inquiry_rows(api, batch["id"])
    assert sorted((row, agency) for row, agency, _ in rows) == sorted(
        (row, agency) for row in range(10) for agency in AGENCIES
    )
    assert {state for *_, state in rows} == {"done"}
