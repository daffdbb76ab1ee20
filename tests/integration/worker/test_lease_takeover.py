"""A slow worker whose lease was taken over cannot write its result: the result writer records
an answer only together with the inquiry's move from "leased by me" to done, so each inquiry
gets exactly one result (and one audit record), the one of the worker that held the lease.

Worker A here is the real claim query and a real ``ResultWriter`` under A's name, driven by
hand so its answer can be made late; worker B is a running gateway, or a second writer."""

from __future__ import annotations

from typing import Any

from gateway.core.metrics import Metrics
from gateway.http.keys import CIPHER
from gateway.store import inquiries
from gateway.worker.writer import Outcome, ResultWriter
from mocks.population import sample_ids
from tests.conftest import Gateway
from tests.integration.worker.conftest import (
    StartGateway,
    agencies,
    assert_equal_to_truth,
    body,
    until,
)

AGENCY = "forestry"
SUBJECTS = 3
#: what the slow worker would write: nothing any agency would answer
LATE = {"written_by": "worker A, too late"}


def writer(gateway: Gateway, owner: str) -> tuple[ResultWriter, Metrics]:
    metrics = Metrics()
    cipher = gateway.client.app[CIPHER]
    return ResultWriter(
        gateway.pool, owner, metrics, cipher, flush_size=100, flush_seconds=0.01
    ), metrics


def recorded(metrics: Metrics) -> float:
    return sum(
        sample.value
        for metric in metrics.registry.collect()
        for sample in metric.samples
        if sample.name == "gateway_inquiries_completed_total"
    )


async def claim(gateway: Gateway, owner: str, lease_seconds: float) -> list[int]:
    async with gateway.pool.acquire() as conn:
        rows = await inquiries.claim(conn, AGENCY, 100, owner, lease_seconds)
    return [row["id"] for row in rows]


async def lease_expired(gateway: Gateway, ids: list[int]) -> bool:
    async with gateway.pool.acquire() as conn:
        return bool(
            await conn.fetchval(
                "SELECT bool_and(lease_expires_at < now()) FROM inquiries WHERE id = ANY($1)",
                ids,
            )
        )


async def stored(gateway: Gateway, batch_id: str) -> tuple[list[Any], int]:
    async with gateway.pool.acquire() as conn:
        results = await conn.fetch(
            "SELECT inquiry_id, status, attempts FROM results WHERE batch_id = $1 "
            "ORDER BY inquiry_id",
            batch_id,
        )
        audited = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'inquiry.result' AND batch_id = $1",
            batch_id,
        )
    return list(results), int(audited)


def late_answers(ids: list[int]) -> list[Outcome]:
    return [Outcome(i, AGENCY, "found", LATE, None, 1) for i in ids]


async def test_a_slow_worker_cannot_write_after_its_lease_was_taken_over(
    start_gateway: StartGateway, mocks: Any
) -> None:
    settings = {"agencies": agencies(mocks.urls, forestry={"max_rps": 0})}
    api = await start_gateway(dispatch=False, **settings)
    created = await api.submit(body(sample_ids(SUBJECTS, seed=91, organisations=0), [AGENCY]))
    batch_id = created["id"]

    # Worker A claims everything, then is slow: its lease runs out before it answers.
    taken = await claim(api, "worker-a", lease_seconds=0.05)
    assert len(taken) == SUBJECTS
    await until(lambda: lease_expired(api, taken))

    # Worker B (a gateway replica) requeues the expired leases, asks the agency, records.
    b = await start_gateway(**settings)
    await b.wait_finished(batch_id, timeout=30)
    results = await b.all_results(batch_id)
    assert_equal_to_truth(results, mocks)
    before, audited_before = await stored(api, batch_id)
    assert [r["inquiry_id"] for r in before] == sorted(taken) and audited_before == SUBJECTS

    # A's answers arrive at last: not recorded, nothing changed.
    a, a_metrics = writer(api, "worker-a")
    for outcome in late_answers(taken):
        a.add(outcome)
    await a.flush()
    assert a.pending == 0  # dropped as not its own, not kept to retry
    assert recorded(a_metrics) == 0
    after, audited_after = await stored(api, batch_id)
    assert after == before and audited_after == SUBJECTS
    assert await b.all_results(batch_id) == results  # still B's answers, none of A's
    assert all(r["data"] != LATE for r in results)


async def test_a_late_answer_while_the_new_holder_works_is_not_recorded(
    start_gateway: StartGateway, mocks: Any
) -> None:
    api = await start_gateway(dispatch=False)
    created = await api.submit(body(sample_ids(SUBJECTS, seed=93, organisations=0), [AGENCY]))
    batch_id = created["id"]
    taken = await claim(api, "worker-a", lease_seconds=0.05)
    await until(lambda: lease_expired(api, taken))
    async with api.pool.acquire() as conn:
        await inquiries.reclaim_expired(conn)  # as any replica's reclaimer does
    assert sorted(await claim(api, "worker-b", lease_seconds=60)) == sorted(taken)

    # A answers while B holds the lease: refused, and B's lease is untouched.
    a, a_metrics = writer(api, "worker-a")
    for outcome in late_answers(taken):
        a.add(outcome)
    await a.flush()
    assert recorded(a_metrics) == 0
    assert await stored(api, batch_id) == ([], 0)
    async with api.pool.acquire() as conn:
        holders = await conn.fetch(
            "SELECT state, lease_owner FROM inquiries WHERE id = ANY($1)", taken
        )
    assert {(h["state"], h["lease_owner"]) for h in holders} == {("leased", "worker-b")}

    # B answers: recorded, once each.
    b, b_metrics = writer(api, "worker-b")
    for inquiry_id in taken:
        b.add(Outcome(inquiry_id, AGENCY, "not_found", None, None, 2))
    await b.flush()
    assert recorded(b_metrics) == SUBJECTS
    results, audited = await stored(api, batch_id)
    assert [(r["inquiry_id"], r["status"], r["attempts"]) for r in results] == [
        (i, "not_found", 2) for i in sorted(taken)
    ]
    assert audited == SUBJECTS


async def test_only_the_leases_a_worker_is_working_on_are_renewed(
    start_gateway: StartGateway, mocks: Any
) -> None:
    """A claim whose answer never reached its worker (a cut connection after the commit) is
    not renewed by that living worker, so its lease runs out and another replica answers."""
    settings = {"agencies": agencies(mocks.urls, forestry={"max_rps": 0})}
    api = await start_gateway(dispatch=False, **settings)
    created = await api.submit(body(sample_ids(SUBJECTS, seed=93, organisations=0), [AGENCY]))
    claimed = await claim(api, "worker-a", lease_seconds=0.3)
    working, lost = claimed[:1], claimed[1:]
    async with api.pool.acquire() as conn:
        await inquiries.renew_leases(conn, "worker-a", 3600, working)  # as its keeper does
    await until(lambda: lease_expired(api, lost))
    assert not await lease_expired(api, working)

    b = await start_gateway(**settings)
    async with api.pool.acquire() as conn:  # worker A lets go of the one it worked on
        await inquiries.release_leases(conn, "worker-a")
    await b.wait_finished(created["id"], timeout=30)
    assert_equal_to_truth(await b.all_results(created["id"]), mocks)
    results, audited = await stored(api, created["id"])
    assert [r["inquiry_id"] for r in results] == sorted(claimed) and audited == SUBJECTS
