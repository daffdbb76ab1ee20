"""A batch's life through the API: submission, idempotency, progress, results, cancellation."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from connectors.registry import AGENCIES
from tests.conftest import CASE, Gateway, batch_body


def batch(n: int, seed: int = 1, agencies: list[str] | None = None) -> dict[str, Any]:
    return batch_body(n=n, seed=seed, agencies=agencies)


async def test_submission_returns_202_with_the_batch_and_its_progress(gateway: Gateway) -> None:
    created = await gateway.submit(batch(3, agencies=["vehicle", "household"]))
    assert created["status"] in ("queued", "running", "done")
    assert created["agencies"] == ["household", "vehicle"]  # registry order, whatever was sent
    assert created["case_number"] == CASE and created["subject_count"] == 3
    assert set(created["progress"]) == {"household", "vehicle"}
    assert created["progress"]["household"]["total"] == 3


async def test_the_202_is_the_batch_as_stored(gateway_factory: Any) -> None:
    """The 202 is built from the submission, not read back: it must say what a read says."""
    api = await gateway_factory(dispatch=False)  # nothing answered between the two
    body = {**batch(4, agencies=["household", "forestry"]), "household_items": ["photo"]}
    body["subjects"].append(dict(body["subjects"][0]))  # merged: asked once
    created = await api.submit(body)
    response = await api.client.get(f"/v1/batches/{created['id']}", headers=await api.headers())
    assert response.status == 200
    assert created == await response.json()
    assert created["merged_rows"] == 1 and created["subject_count"] == 4


async def test_ascii_brackets_are_stored_in_canonical_form(gateway: Gateway) -> None:
    body = {**batch(1), "case_number": "(2024)吉0302执恢45号"}
    created = await gateway.submit(body)
    assert created["case_number"] == "（2024）吉0302执恢45号"


async def test_the_same_idempotency_key_returns_the_same_batch(gateway: Gateway) -> None:
    body = batch(5)
    first, second = await asyncio.gather(
        gateway.submit(body, **{"Idempotency-Key": "k-1"}),
        gateway.submit(body, **{"Idempotency-Key": "k-1"}),
    )
    third = await gateway.submit(body, **{"Idempotency-Key": "k-1"})
    assert first["id"] == second["id"] == third["id"]
    async with gateway.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM batches") == 1
        assert await conn.fetchval("SELECT count(*) FROM inquiries") == 5 * len(AGENCIES)
    other = await gateway.submit(body, **{"Idempotency-Key": "k-2"})
    assert other["id"] != first["id"]


async def test_an_idempotency_key_reused_for_another_batch_is_refused(gateway: Gateway) -> None:
    await gateway.submit(batch(2, seed=1), **{"Idempotency-Key": "same"})
    response = await gateway.client.post(
        "/v1/batches",
        json=batch(2, seed=2),
        headers={**await gateway.headers(), "Idempotency-Key": "same"},
    )
    assert response.status == 422
    assert (await response.json())["error"]["problems"][0]["field"] == "Idempotency-Key"
    async with gateway.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM batches") == 1


async def test_a_replayed_submission_says_so_and_stores_nothing_new(api: Gateway) -> None:
    body = batch(4, seed=3)
    headers = {**await api.headers(), "Idempotency-Key": "replay-1"}
    first = await api.client.post("/v1/batches", json=body, headers=headers)
    assert first.status == 202, await first.text()
    assert "Idempotent-Replayed" not in first.headers
    created = await first.json()

    # The client retries: the same body, re-serialised (other key order, other spacing).
    again = json.dumps(body, ensure_ascii=False, sort_keys=True, indent=1)
    replay = await api.client.post(
        "/v1/batches",
        data=again.encode(),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert replay.status == 202, await replay.text()
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.headers["Location"] == first.headers["Location"] == f"/v1/batches/{created['id']}"
    assert (await replay.json())["id"] == created["id"]

    # The same key with another body: 422, not a replay, nothing stored.
    other = await api.client.post("/v1/batches", json=batch(4, seed=4), headers=headers)
    assert other.status == 422, await other.text()
    assert "Idempotent-Replayed" not in other.headers
    problems = (await other.json())["error"]["problems"]
    assert [p["field"] for p in problems] == ["Idempotency-Key"]

    async with api.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM batches") == 1
        assert await conn.fetchval("SELECT count(*) FROM inquiries") == 4 * len(AGENCIES)
        submitted = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'batch.submitted'"
        )
    assert submitted == 1


async def test_progress_adds_up_when_the_batch_is_done(gateway: Gateway) -> None:
    created = await gateway.submit(batch(20))
    await gateway.wait_finished(created["id"])
    response = await gateway.client.get(
        f"/v1/batches/{created['id']}", headers=await gateway.headers()
    )
    body = await response.json()
    assert body["status"] == "done" and body["finished_at"] is not None
    for agency in AGENCIES:
        p = body["progress"][agency]
        assert p["total"] == p["done"] == 20
        assert p["found"] + p["not_found"] + p["failed"] == 20


async def test_results_pages_cover_every_result_exactly_once(gateway: Gateway) -> None:
    created = await gateway.submit(batch(11, agencies=["household", "vehicle", "forestry"]))
    await gateway.wait_finished(created["id"])
    seen: list[tuple[int, str]] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "7", **({"cursor": cursor} if cursor else {})}
        response = await gateway.client.get(
            f"/v1/batches/{created['id']}/results", params=params, headers=await gateway.headers()
        )
        page = await response.json()
        assert len(page["items"]) <= 7
        seen += [(item["subject"]["row"], item["agency"]) for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 5  # 33 results in pages of 7
    assert len(seen) == len(set(seen)) == 33
    assert seen == sorted(
        seen, key=lambda s: (s[0], ["household", "vehicle", "forestry"].index(s[1]))
    )


async def test_cancelling_a_queued_batch_means_its_inquiries_are_never_asked(
    gateway_factory: Any,
) -> None:
    # Without a dispatcher the batch stays queued, so the cancel is certain to come first.
    gateway = await gateway_factory(dispatch=False)
    created = await gateway.submit(batch(30))
    response = await gateway.client.post(
        f"/v1/batches/{created['id']}/cancel", headers=await gateway.headers()
    )
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "cancelled"
    again = await gateway.client.post(
        f"/v1/batches/{created['id']}/cancel", headers=await gateway.headers()
    )
    assert again.status == 409
    async with gateway.pool.acquire() as conn:
        open_left = await conn.fetchval(
            "SELECT count(*) FROM inquiries WHERE batch_id = $1 AND state IN ('queued','leased')",
            created["id"],
        )
        audited = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE batch_id = $1 AND action = 'batch.cancelled'",
            created["id"],
        )
    assert open_left == 0 and audited == 1


async def test_a_done_batch_cannot_be_cancelled(gateway: Gateway) -> None:
    created = await gateway.submit(batch(2, agencies=["household"]))
    await gateway.wait_finished(created["id"])
    response = await gateway.client.post(
        f"/v1/batches/{created['id']}/cancel", headers=await gateway.headers()
    )
    assert response.status == 409
    assert (await response.json())["error"]["status"] == "done"


async def test_officers_list_and_see_only_their_own_teams_batches(gateway: Gateway) -> None:
    mine = await gateway.submit(batch(1, seed=1), team="team-a")
    theirs = await gateway.submit(batch(1, seed=2), team="team-b")
    response = await gateway.client.get("/v1/batches", headers=await gateway.headers(team="team-a"))
    ids = [item["id"] for item in (await response.json())["items"]]
    assert ids == [mine["id"]]
    for path in (f"/v1/batches/{theirs['id']}", f"/v1/batches/{theirs['id']}/results"):
        other = await gateway.client.get(path, headers=await gateway.headers(team="team-a"))
        missing = await gateway.client.get(
            "/v1/batches/00000000-0000-0000-0000-000000000000", headers=await gateway.headers()
        )
        assert other.status == missing.status == 404
        assert (await other.json()) == (await missing.json())


async def test_batch_list_is_cursor_paginated_newest_first(gateway: Gateway) -> None:
    created = [await gateway.submit(batch(1, seed=s)) for s in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await gateway.client.get(
            "/v1/batches", params=params, headers=await gateway.headers()
        )
        page = await response.json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [c["id"] for c in reversed(created)]


async def test_requests_without_a_valid_token_are_401(gateway: Gateway) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = await gateway.client.get("/v1/batches", headers=headers)
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "unauthorized"
