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
from connectors.registry import AGENCIES
from gateway.accountability import audit
from gateway.http.keys import DISPATCHER
from mocks.faults import Latency
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


# -- PostgreSQL restarted twice while all six agencies work, and once while idle ------------

PEOPLE = 200
SECOND_BATCH = 40
#: (max in flight, max requests/s) per agency: the mocks' limits and the gateway's (whose
#: rate is 10% under, as in test_replicas: the mocks share the test's event loop, whose
#: stalls can delay one request's arrival more than the next one's)
TIGHT: dict[str, tuple[int, float]] = {
    "household": (4, 200.0),
    "realestate": (3, 200.0),
    "vehicle": (1, 20.0),
    "forestry": (3, 100.0),
    "subsidy": (8, 1000.0),
    "police": (3, 200.0),
}
#: enough that every agency is still busy at the first restart and the batch at the second
SLOW: dict[str, Latency] = {
    "household": Latency(request=(0.004, 0.012)),
    "realestate": Latency(request=(0.002, 0.006), ready=(0.01, 0.03)),
    "vehicle": Latency(request=(1.0, 1.5)),  # 4 calls of 50, one at a time
    "forestry": Latency(request=(0.02, 0.04)),
    "subsidy": Latency(request=(0.001, 0.003)),
    "police": Latency(request=(0.002, 0.006), ready=(0.01, 0.03)),
}
#: the gateway's permit leases: short, so that each outage outlasts them
PERMIT_LEASE = 1.0


async def test_every_loop_resumes_after_postgresql_restarts_during_and_between_batches(
    start_gateway: StartGateway,
    mocks: Any,
    restartable_pg: RestartableDatabase,
) -> None:
    for agency, (in_flight, rate) in TIGHT.items():
        mocks.set_limits(agency, max_in_flight=in_flight, max_per_second=rate)
        mocks.set_latency(agency, SLOW[agency])
    gateway = await start_gateway(
        agencies=agencies(
            mocks.urls,
            **{name: {"max_in_flight": f, "max_rps": r * 0.9} for name, (f, r) in TIGHT.items()},
        ),
        limit_lease_seconds=PERMIT_LEASE,
        limit_sync_seconds=0.2,
    )
    gates = gateway.client.app[DISPATCHER].limits.gates
    loop = asyncio.get_running_loop()
    figures: dict[str, Any] = {}

    async def readiness() -> int:
        return (await gateway.client.get("/readyz")).status

    async def open_per_agency(batch_id: str) -> dict[str, int]:
        async with gateway.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT agency, count(*) AS n FROM inquiries WHERE batch_id = $1 "
                "AND state IN ('queued', 'leased') GROUP BY agency",
                batch_id,
            )
        return {row["agency"]: row["n"] for row in rows}

    async def outage(label: str) -> tuple[float, list[str]]:
        """PostgreSQL stopped (fast: every connection cut) and kept down until each gate that
        held or wanted permits has lost them (its lease lapsed unrenewed), then started again.
        /readyz is 503 all along, 200 once it is back. Returns when it was started, and the
        agencies whose requests were waiting for permits then."""
        holding = [name for name, gate in gates.items() if gate.permits.held or gate.permits.demand]
        await restartable_pg.stop("fast")
        assert await readiness() == 503

        async def permits_lost() -> bool:
            return all(gates[name].permits.cap == 0 for name in holding)

        await until(permits_lost)
        response = await gateway.client.get("/readyz")
        assert response.status == 503 and (await response.json())["status"] == "unavailable"
        waiting = sorted(name for name, gate in gates.items() if gate.permits.waiting)
        await restartable_pg.start()
        started = loop.time()

        async def ready() -> bool:
            return await readiness() == 200

        await until(ready)
        async with gateway.pool.acquire() as conn:
            restarted_at = await conn.fetchval("SELECT clock_timestamp()")

        async def permits_back() -> bool:
            # Renewed since the restart: a lease taken before it ends before restarted_at +
            # PERMIT_LEASE.
            async with gateway.pool.acquire() as conn:
                renewed = await conn.fetch(
                    "SELECT agency FROM agency_permits WHERE expires_at >= $1::timestamptz "
                    "+ make_interval(secs => $2)",
                    restarted_at,
                    PERMIT_LEASE,
                )
            return set(waiting) <= {row["agency"] for row in renewed}

        async def listening_again() -> bool:
            async with gateway.pool.acquire() as conn:
                return bool(
                    await conn.fetchval(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND query LIKE 'LISTEN %'"
                    )
                )

        await until(permits_back)
        await until(listening_again)
        figures[label] = {"waiting_for_permits": waiting}
        return started, waiting

    # Batch 1: 200 people x 6 agencies; PostgreSQL restarted at ~20% and ~55% done.
    first = (await gateway.submit(body(sample_ids(PEOPLE, seed=81))))["id"]
    total = PEOPLE * len(AGENCIES)
    restarts: list[float] = []
    for label, share in (("first", 0.2), ("second", 0.55)):

        async def reached(share: float = share) -> bool:
            return await done_count(gateway, first) >= share * total

        await until(reached, timeout=60)
        unfinished = await open_per_agency(first)
        done = await done_count(gateway, first)
        assert done < total, "the batch should still be running"
        started, waiting = await outage(label)
        restarts.append(started)
        assert waiting, "requests should have been waiting for permits across the restart"
        figures[label].update(done_before=done, open_per_agency=unfinished)
    assert len(figures["first"]["open_per_agency"]) == len(AGENCIES)  # every agency busy
    await gateway.wait_finished(first, timeout=60)
    finished = loop.time()
    figures["first"]["batch_done_after_s"] = round(finished - restarts[0], 2)
    figures["second"]["batch_done_after_s"] = round(finished - restarts[1], 2)

    # Idle: PostgreSQL restarted with nothing to do, then batch 2 submitted.
    started, _ = await outage("idle")
    second = (await gateway.submit(body(sample_ids(SECOND_BATCH, seed=82))))["id"]
    await gateway.wait_finished(second, timeout=60)
    figures["idle"]["batch_done_after_s"] = round(loop.time() - started, 2)

    for batch_id, people in ((first, PEOPLE), (second, SECOND_BATCH)):
        results = await gateway.all_results(batch_id)
        assert len(results) == people * len(AGENCIES)
        assert_equal_to_truth(results, mocks)
        async with gateway.pool.acquire() as conn:
            per_inquiry = await conn.fetch(
                "SELECT count(r.inquiry_id) AS n FROM inquiries i "
                "LEFT JOIN results r ON r.inquiry_id = i.id WHERE i.batch_id = $1 GROUP BY i.id",
                batch_id,
            )
            audited = await conn.fetch(
                "SELECT agency, row FROM audit_log "
                "WHERE action = 'inquiry.result' AND batch_id = $1",
                batch_id,
            )
        assert len(per_inquiry) == people * len(AGENCIES)
        assert {row["n"] for row in per_inquiry} == {1}
        assert sorted((a["agency"], a["row"]) for a in audited) == sorted(
            (agency, row) for agency in AGENCIES for row in range(people)
        )
    async with gateway.pool.acquire() as conn:
        verification = await audit.verify(conn)
    assert verification.ok, verification.first_broken
    for agency in AGENCIES:
        stats = mocks.stats(agency)
        assert stats["breaches_total"] == 0, (agency, stats["breaches"])
        assert stats["peak_in_flight"] <= TIGHT[agency][0], agency
    print("restarts:", figures)
