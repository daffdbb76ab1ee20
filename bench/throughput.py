"""Throughput: the gateway's durable rate against a bare client's, on zero-latency mocks.

The gateway takes one batch of ~20,000 subject x agency inquiries and is timed from
submission until the batch is done (every result and its audit records committed). Then a
bare client, in this process, asks the same mocks the same questions through the same
connector code (the agencies' protocols: ticket polling, township paging, batches of 50) with
the same per-agency concurrency, and stores nothing. The ratio is the price of durability,
audit, encryption and scheduling.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import asyncpg
from rich.console import Console

from bench.harness import cpu_seconds, own_cpu_seconds, stack, submit, wait_done
from connectors.base import Requester, Subject
from connectors.registry import AGENCIES, build_connectors
from gateway.core.identifiers import classify_identifier
from mocks.population import sample_ids

INQUIRIES = 20_000
CONCURRENCY = 16  # per agency, for both the gateway and the bare client
CASE = "（2022）吉03执123号"


async def run(console: Console) -> list[dict[str, Any]]:
    subjects = sample_ids(-(-INQUIRIES // len(AGENCIES)), seed=2024)
    total = len(subjects) * len(AGENCIES)
    # Concurrency is the only limit on either side: no rate limit (0) on the gateway's agencies,
    # as the bare client has none and the zero-latency mocks run with --no-limits.
    env = {f"GATEWAY_AGENCY_{name.upper()}_MAX_IN_FLIGHT": str(CONCURRENCY) for name in AGENCIES}
    env |= {f"GATEWAY_AGENCY_{name.upper()}_MAX_RPS": "0" for name in AGENCIES}
    async with stack(latency="zero", gateway_env=env) as running:
        console.print(f"throughput: {len(subjects)} subjects x {len(AGENCIES)} agencies = {total}")
        body = {
            "case_number": CASE,
            "reason": "benchmark",
            "subjects": [{"name": n, "id_number": i} for n, i in subjects],
        }
        before = cpu_seconds(running)
        started = time.perf_counter()
        batch_id = await submit(running, body)
        await wait_done(running.database_url, batch_id)
        gateway_seconds = time.perf_counter() - started
        durable = _per_thousand(before, cpu_seconds(running), total)
        recorded, audited = await _check(running.database_url, total)
        console.print(f"  gateway: {gateway_seconds:.1f} s ({recorded} results, {audited} audit)")
        before = cpu_seconds(running) | {"client": own_cpu_seconds()}
        bare_seconds = await _bare_client(running.agency_urls, subjects)
        after = cpu_seconds(running) | {"client": own_cpu_seconds()}
        bare = _per_thousand(before, after, total)
        console.print(f"  bare client: {bare_seconds:.1f} s")
    gateway_rate = total / gateway_seconds
    bare_rate = total / bare_seconds
    return [
        {"scenario": "throughput", "metric": "inquiries", "value": f"{total}"},
        {
            "scenario": "throughput",
            "metric": "gateway (durable) inq/s",
            "value": f"{gateway_rate:.0f}",
        },
        {"scenario": "throughput", "metric": "bare client inq/s", "value": f"{bare_rate:.0f}"},
        {
            "scenario": "throughput",
            "metric": "ratio gateway/bare (target >= 0.75)",
            "value": f"{gateway_rate / bare_rate:.2f}",
        },
        # CPU seconds per 1,000 inquiries, per process, from the operating system: what the
        # durable path costs beside the bare client, and whether the stand-ins are the limit
        *(
            {"scenario": "throughput", "metric": f"CPU s/1000, durable: {name}", "value": v}
            for name, v in durable.items()
        ),
        *(
            {"scenario": "throughput", "metric": f"CPU s/1000, bare: {name}", "value": v}
            for name, v in bare.items()
            if name in ("client", "mocks")
        ),
    ]


def _per_thousand(before: dict[str, float], after: dict[str, float], total: int) -> dict[str, str]:
    return {name: f"{(after[name] - before[name]) * 1000 / total:.2f}" for name in after}


async def _check(database_url: str, total: int) -> tuple[int, int]:
    conn = await asyncpg.connect(database_url)
    try:
        recorded = await conn.fetchval("SELECT count(*) FROM results")
        audited = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'inquiry.result'"
        )
    finally:
        await conn.close()
    if recorded != total or audited != total:
        raise RuntimeError(f"expected {total} results and audit records, got {recorded}/{audited}")
    return recorded, audited


async def _bare_client(urls: dict[str, str], people: list[tuple[str, str]]) -> float:
    subjects = [Subject(name, number, classify_identifier(number)[0]) for name, number in people]
    requester = Requester("bench-officer", "bench-team", CASE, "bare-client")
    connector_limit = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector_limit) as session:
        connectors = build_connectors(session, urls, dict.fromkeys(AGENCIES, 30.0))

        async def agency(name: str) -> None:
            connector = connectors[name]
            slots = asyncio.Semaphore(CONCURRENCY)
            step = connector.max_group

            async def one(group: list[Subject]) -> None:
                async with slots:
                    await connector.query(group, requester)

            groups = [subjects[i : i + step] for i in range(0, len(subjects), step)]
            await asyncio.gather(*(one(g) for g in groups))

        started = time.perf_counter()
        await asyncio.gather(*(agency(name) for name in AGENCIES))
        return time.perf_counter() - started
