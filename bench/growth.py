"""Growth: intake and claims on an empty database, then with 10 million finished inquiries.

Each phase posts three lists of 20,000 subjects (120,000 inquiries) as JSON and takes the
median request-to-202 rate; the first list is also answered in part (10,000 results from the
zero-latency stand-ins, the replica's inquiries per second), each is then cancelled. Claims
are then timed from a quiet connection with the gateway's own claim query (500 claims of 16
from one open batch), so the figure is the database's part, not the event loop's.

Between the phases, 1,000 finished batches of 1,667 subjects for the six agencies (10,002,000
inquiries, each with its result, one in five found with a sealed record of a typical size,
and the dispatch and result records of the audit log) are written straight into the
database, as a province's year of work would leave them, then vacuumed and analysed as
autovacuum would. The audit records are written with the chain's triggers off (computing
20 million chained hashes one row at a time would take most of an hour): the log has its
real size and indexes, but that part of its chain is not valid, which this benchmark does
not check. The database's size is read before and after.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import aiohttp
import asyncpg
from rich.console import Console

from bench.harness import Stack, stack
from connectors.registry import AGENCIES
from gateway.store import inquiries
from mocks.population import sample_ids

SUBJECTS = 20_000
LISTS = 3
RESULTS_PER_LIST = 10_000
CLAIMS = 500
GROWN_BATCHES = 1_000
GROWN_SUBJECTS = 1_667
#: grown batches per transaction
GROW_CHUNK = 50
CASE = "（2022）吉03执123号"


async def run(console: Console) -> list[dict[str, Any]]:
    env = {f"GATEWAY_AGENCY_{name.upper()}_MAX_RPS": "0" for name in AGENCIES}
    env |= {f"GATEWAY_AGENCY_{name.upper()}_MAX_IN_FLIGHT": "16" for name in AGENCIES}
    # The grown batches are up to 400 days old, and the chain's 20 million grown records are
    # not chained: neither the leader's purge nor its verification may start mid-measurement.
    env |= {"GATEWAY_RETENTION_DAYS": "36500", "GATEWAY_AUDIT_VERIFY_SECONDS": "86400"}
    async with stack(latency="zero", gateway_env=env) as running:
        empty = await _phase(console, running, "empty", seed=100)
        empty_size = await _size(running)
        started = time.perf_counter()
        inquiries = await _grow(running)
        grow_seconds = time.perf_counter() - started
        grown_size = await _size(running)
        console.print(
            f"  grown by {inquiries:,} finished inquiries in {grow_seconds:.0f} s: "
            f"{empty_size / 2**20:,.0f} MB -> {grown_size / 2**20:,.0f} MB"
        )
        grown = await _phase(console, running, "grown", seed=200)
    per_million = (grown_size - empty_size) / (inquiries / 1e6) / 2**20
    rows = [
        _row("finished inquiries added", f"{inquiries:,}"),
        _row("database size per million inquiries (MB)", f"{per_million:,.0f}"),
    ]
    for name, key, fmt in (
        ("intake (subjects/s, median)", "intake", "{:,.0f}"),
        ("claim, median (ms)", "claim_ms", "{:.2f}"),
        ("claim, 90th percentile (ms)", "claim_p90_ms", "{:.2f}"),
        ("inquiries/s (one replica)", "rate", "{:,.0f}"),
    ):
        ratio = grown[key] / empty[key]
        rows.append(
            _row(
                name,
                f"empty {fmt.format(empty[key])} · grown {fmt.format(grown[key])} ({ratio:.2f}x)",
            )
        )
    return rows


def _row(metric: str, value: str) -> dict[str, Any]:
    return {"scenario": "growth", "metric": metric, "value": value}


async def _phase(console: Console, running: Stack, name: str, seed: int) -> dict[str, float]:
    rates: list[float] = []
    results = seconds = 0.0
    headers = {"Authorization": f"Bearer {running.token}"}
    async with aiohttp.ClientSession() as session:
        for i in range(LISTS):
            people = sample_ids(SUBJECTS, seed=seed + i)
            body = {
                "case_number": CASE,
                "reason": "benchmark",
                "subjects": [{"name": n, "id_number": x} for n, x in people],
            }
            started = time.perf_counter()
            async with session.post(
                f"{running.gateway_url}/v1/batches", json=body, headers=headers
            ) as response:
                created = await response.json()
                took = time.perf_counter() - started
                if response.status != 202:
                    raise RuntimeError(f"list refused ({response.status}): {created}")
            rates.append(SUBJECTS / took)
            if i == 0:  # the first list is also answered in part: the replica's rate
                accepted, counted = time.perf_counter(), await _results(session, running)
                await _until_results(session, running, counted + RESULTS_PER_LIST)
                seconds += time.perf_counter() - accepted
                results += await _results(session, running) - counted
            cancel = f"{running.gateway_url}/v1/batches/{created['id']}/cancel"
            async with session.post(cancel, headers=headers) as response:
                await response.read()
            await _quiet(running)
    claims = await _claim_times(running)
    figures = {
        "intake": statistics.median(rates),
        "claim_ms": 1000 * statistics.median(claims),
        "claim_p90_ms": 1000 * statistics.quantiles(claims, n=10)[-1],
        "rate": results / seconds,
    }
    console.print(
        f"  {name}: intake {figures['intake']:,.0f} subjects/s "
        f"({', '.join(f'{r:,.0f}' for r in rates)}); claim median {figures['claim_ms']:.2f} ms, "
        f"p90 {figures['claim_p90_ms']:.2f} ms; {figures['rate']:,.0f} inquiries/s"
    )
    return figures


async def _claim_times(running: Stack) -> list[float]:
    """Seconds of each of CLAIMS claims of 16, by the gateway's own claim query, on a queue of
    one open batch for an agency the running gateway does not ask ("bench"), from a quiet
    connection: the database's part of a claim, without the event loop's."""
    conn = await asyncpg.connect(running.database_url)
    try:
        officer = await conn.fetchrow("SELECT id, team_id FROM officers LIMIT 1")
        assert officer is not None
        batch_id = await conn.fetchval(QUEUE, officer["id"], officer["team_id"], CLAIMS * 16)
        times: list[float] = []
        for _ in range(CLAIMS):
            started = time.perf_counter()
            claimed = await inquiries.claim(conn, "bench", 16, "bench:claims", 30.0)
            times.append(time.perf_counter() - started)
            assert len(claimed) == 16
        await conn.execute("UPDATE inquiries SET state = 'cancelled' WHERE batch_id = $1", batch_id)
        await conn.execute(
            "UPDATE batches SET status = 'cancelled', finished_at = now() WHERE id = $1", batch_id
        )
        return times
    finally:
        await conn.close()


async def _results(session: aiohttp.ClientSession, running: Stack) -> int:
    """Inquiries the gateway has recorded (its /metrics: polling it costs the database
    nothing, which a count in the database would not)."""
    async with session.get(running.gateway_url + "/metrics") as response:
        text = await response.text()
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("gateway_inquiries_completed_total")
        )
    )


async def _until_results(session: aiohttp.ClientSession, running: Stack, wanted: int) -> None:
    while True:  # another process's progress: polled
        if await _results(session, running) >= wanted:
            return
        await asyncio.sleep(0.05)


async def _quiet(running: Stack) -> None:
    """Wait until nothing is leased (the cancelled list's calls in flight have ended) and
    every list's inquiries are stored (the gateway goes on storing a cancelled list's, as
    cancelled), then vacuum and checkpoint, so the next list starts on a settled database."""
    conn = await asyncpg.connect(running.database_url)
    try:
        while True:
            busy = await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM inquiries WHERE state = 'leased')"
                " OR EXISTS (SELECT 1 FROM batches WHERE unqueued_from IS NOT NULL)"
            )
            if not busy:
                break
            await asyncio.sleep(0.05)
        await conn.execute("VACUUM ANALYZE")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def _size(running: Stack) -> int:
    conn = await asyncpg.connect(running.database_url)
    try:
        return int(await conn.fetchval("SELECT pg_database_size(current_database())"))
    finally:
        await conn.close()


async def _grow(running: Stack) -> int:
    """Write the finished batches (see the module's docstring); the inquiries added."""
    conn = await asyncpg.connect(running.database_url)
    try:
        officer = await conn.fetchrow("SELECT id, team_id FROM officers LIMIT 1")
        assert officer is not None
        for first in range(0, GROWN_BATCHES, GROW_CHUNK):
            count = min(GROW_CHUNK, GROWN_BATCHES - first)
            async with conn.transaction():
                await conn.execute("SET LOCAL session_replication_role = replica")
                await conn.execute(
                    GROW, officer["id"], officer["team_id"], first, count, GROWN_SUBJECTS
                )
        await conn.execute("VACUUM ANALYZE")
        await conn.execute("CHECKPOINT")
        return GROWN_BATCHES * GROWN_SUBJECTS * len(AGENCIES)
    finally:
        await conn.close()


#: $1 officer, $2 team, $3 first batch number, $4 batches, $5 subjects per batch
GROW = """
WITH grown AS (
    INSERT INTO batches (id, officer_id, team_id, case_number, reason, agencies, status,
                         subject_count, request_digest, created_at, started_at, finished_at)
    SELECT gen_random_uuid(), $1, $2, '（2025）吉03执' || n || '号', 'growth',
           ARRAY['household','realestate','vehicle','forestry','subsidy','police'], 'done',
           $5, '\\x00'::bytea, t, t, t + interval '20 minutes'
    FROM generate_series($3::int, $3 + $4 - 1) n,
         LATERAL (SELECT now() - interval '400 days' + n * interval '8 hours' AS t) at_time
    RETURNING id, agencies, created_at, finished_at
),
people AS (
    INSERT INTO subjects (batch_id, row, kind, name, id_number, subject_digest)
    SELECT g.id, r, 'person',
           substring(sha512(uuid_send(g.id) || int4send(r)) FROM 1 FOR 45),
           substring(sha512(int4send(r) || uuid_send(g.id)) FROM 1 FOR 51),
           sha256(int4send(r % 400000))
    FROM grown g, generate_series(2, $5 + 1) r
    RETURNING batch_id, row
),
asked AS (
    INSERT INTO inquiries (batch_id, row, agency, state, attempts, not_before,
                           answer_deadline, last_attempt_at)
    SELECT p.batch_id, p.row, a, 'done', 1, g.created_at, g.created_at + interval '1 day',
           g.finished_at
    FROM people p JOIN grown g ON g.id = p.batch_id, unnest(g.agencies) a
    RETURNING id, batch_id, row, agency
),
answered AS (
    INSERT INTO results (inquiry_id, batch_id, row, agency, status, data, attempts,
                         completed_at, assets)
    SELECT q.id, q.batch_id, q.row, q.agency,
           CASE WHEN q.id % 5 = 0 THEN 'found' ELSE 'not_found' END,
           CASE WHEN q.id % 5 = 0
                THEN sha512(int8send(q.id)) || sha512(int8send(q.id + 1))
                     || sha512(int8send(q.id + 2)) || sha512(int8send(q.id + 3)) END,
           1, now() - interval '300 days', CASE WHEN q.id % 5 = 0 THEN 1 END
    FROM asked q
    RETURNING inquiry_id
),
tail AS (
    -- the chain's triggers continue after the last record, wherever the head is
    SELECT coalesce(max(seq), 0) AS last FROM audit_log
)
INSERT INTO audit_log (action, officer_id, officer, team, case_number, batch_id, row,
                       subject_digest, agency, outcome, seq, prev_hash, hash, at)
SELECT e.action, $1, 'bench-officer', 'bench-team', '（2025）吉03执号', q.batch_id, q.row,
       sha256(int4send(q.row % 400000)), q.agency, e.outcome,
       (SELECT last FROM tail) + row_number() OVER (),
       '\\x00'::bytea, '\\x00'::bytea, now() - interval '300 days'
FROM asked q,
     (VALUES ('inquiry.dispatched', 'sent'), ('inquiry.result', 'recorded')) e (action, outcome)
"""

#: $1 officer, $2 team, $3 subjects: one queued batch asking the agency "bench" only
QUEUE = """
WITH batch AS (
    INSERT INTO batches (id, officer_id, team_id, case_number, reason, agencies, status,
                         subject_count, request_digest)
    VALUES (gen_random_uuid(), $1, $2, '（2026）吉03执1号', 'claims', ARRAY['bench'], 'queued',
            $3, '\\x00'::bytea)
    RETURNING id
),
people AS (
    INSERT INTO subjects (batch_id, row, kind, name, id_number, subject_digest)
    SELECT b.id, r, 'person', sha512(int4send(r)), sha512(int4send(-r)), sha256(int4send(r))
    FROM batch b, generate_series(2, $3 + 1) r
    RETURNING batch_id, row
),
queued AS (
    INSERT INTO inquiries (batch_id, row, agency)
    SELECT batch_id, row, 'bench' FROM people
)
SELECT id FROM batch
"""
