"""Throughput: the gateway's durable rate against a bare client's, on zero-latency mocks.

The gateway takes one batch of ~20,000 subject x agency inquiries and is timed from
submission until the batch is done (every result and its audit records committed), in
``BENCH_THROUGHPUT_ROUNDS`` rounds (3). A bare client, in this process, before and after each
round, asks the same mocks the same questions through the same connector code (the agencies'
protocols: ticket polling, township paging, batches of 50) with the same per-agency
concurrency (calls, and HTTP requests in flight), and stores nothing. The ratio is the price
of durability, audit, encryption and scheduling: the median of the rounds' ratios.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from statistics import median
from typing import Any

import aiohttp
import asyncpg
from rich.console import Console

from bench.harness import Stack, cpu_seconds, own_cpu_seconds, stack, submit, wait_done
from connectors.base import Requester, Subject
from connectors.registry import AGENCIES, build_connectors
from gateway.core.identifiers import classify_identifier
from mocks.population import sample_ids

INQUIRIES = 20_000
CONCURRENCY = 16  # per agency, for both the gateway and the bare client
#: gateway rounds, each between two runs of the bare client
ROUNDS = int(os.environ.get("BENCH_THROUGHPUT_ROUNDS", "3"))
CASE = "（2022）吉03执123号"


async def run(console: Console) -> list[dict[str, Any]]:
    subjects = sample_ids(-(-INQUIRIES // len(AGENCIES)), seed=2024)
    total = len(subjects) * len(AGENCIES)
    async with stack(latency="zero", gateway_env=gateway_env()) as running:
        console.print(
            f"throughput: {len(subjects)} subjects x {len(AGENCIES)} agencies = {total}, "
            f"{ROUNDS} rounds of the gateway between runs of the bare client"
        )
        body = {
            "case_number": CASE,
            "reason": "benchmark",
            "subjects": [{"name": n, "id_number": i} for n, i in subjects],
        }
        # Each gateway round between two runs of the bare client, compared with their mean:
        # the machine's speed drifts over minutes (by a third from hour to hour), and the
        # median of the rounds' ratios is what one slow minute cannot move.
        bare = [await _timed_bare(running, subjects, total)]
        rounds: list[tuple[float, dict[str, float]]] = []
        for number in range(1, ROUNDS + 1):
            before = cpu_seconds(running)
            started = time.perf_counter()
            batch_id = await submit(running, body)
            await wait_done(running.database_url, batch_id)
            seconds = time.perf_counter() - started
            rounds.append((seconds, _per_thousand(before, cpu_seconds(running), total)))
            await _check(running.database_url, batch_id, total)
            bare.append(await _timed_bare(running, subjects, total))
            console.print(
                f"  round {number}: gateway {seconds:.1f} s, bare client "
                f"{bare[-2][0]:.1f} s before and {bare[-1][0]:.1f} s after"
            )
    gateway_rates = [total / seconds for seconds, _ in rounds]
    bare_rates = [(total / bare[i][0] + total / bare[i + 1][0]) / 2 for i in range(len(rounds))]
    ratios = [g / b for g, b in zip(gateway_rates, bare_rates, strict=True)]
    durable = {name: median(r[1][name] for r in rounds) for name in rounds[0][1]}
    plain = {name: median(b[1][name] for b in bare) for name in ("client", "mocks")}
    row = _row
    return [
        row("inquiries per round", f"{total}"),
        row(f"gateway (durable) inq/s, median of {ROUNDS}", f"{median(gateway_rates):.0f}"),
        row(
            "bare client inq/s, median (each round: mean of the runs around it)",
            f"{median(bare_rates):.0f}",
        ),
        row("ratio gateway/bare, median (target >= 0.75)", f"{median(ratios):.2f}"),
        row("ratio gateway/bare, each round", " ".join(f"{r:.2f}" for r in ratios)),
        # CPU seconds per 1,000 inquiries, per process, from the operating system (medians):
        # what the durable path costs beside the bare client, and whether the stand-ins are
        # the limit
        *(row(f"CPU s/1000, durable: {name}", f"{v:.2f}") for name, v in durable.items()),
        *(row(f"CPU s/1000, bare: {name}", f"{v:.2f}") for name, v in plain.items()),
        # The ratio the rates would have if each process had a core to itself: the machine's
        # two cores also run PostgreSQL and the stand-ins beside the gateway.
        row("CPU per inquiry, bare client/gateway", f"{plain['client'] / durable['gateway']:.2f}"),
    ]


def _row(metric: str, value: str) -> dict[str, str]:
    return {"scenario": "throughput", "metric": metric, "value": value}


async def _timed_bare(
    running: Stack, subjects: list[tuple[str, str]], total: int
) -> tuple[float, dict[str, float]]:
    """The bare client's seconds, and CPU seconds per 1,000 inquiries of it and the mocks."""
    before = cpu_seconds(running) | {"client": own_cpu_seconds()}
    seconds = await _bare_client(running.agency_urls, subjects)
    after = cpu_seconds(running) | {"client": own_cpu_seconds()}
    return seconds, _per_thousand(before, after, total)


def gateway_env() -> dict[str, str]:
    """The gateway's agencies as the bare client asks them: concurrency is the only limit on
    either side, ``CONCURRENCY`` connector calls and as many HTTP requests in flight per
    agency, and no rate limit (0), as the zero-latency mocks run with --no-limits."""
    env: dict[str, str] = {}
    for name in AGENCIES:
        prefix = f"GATEWAY_AGENCY_{name.upper()}"
        env |= {
            f"{prefix}_MAX_IN_FLIGHT": str(CONCURRENCY),
            f"{prefix}_MAX_CALLS": str(CONCURRENCY),
            f"{prefix}_MAX_RPS": "0",
        }
    return env


def _per_thousand(
    before: dict[str, float], after: dict[str, float], total: int
) -> dict[str, float]:
    return {name: (after[name] - before[name]) * 1000 / total for name in after}


async def _check(database_url: str, batch_id: str, total: int) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        recorded = await conn.fetchval(
            "SELECT count(*) FROM results WHERE batch_id = $1::uuid", batch_id
        )
        audited = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'inquiry.result'"
            " AND batch_id = $1::uuid",
            batch_id,
        )
    finally:
        await conn.close()
    if recorded != total or audited != total:
        raise RuntimeError(f"expected {total} results and audit records, got {recorded}/{audited}")


async def _bare_client(urls: dict[str, str], people: list[tuple[str, str]]) -> float:
    subjects = [Subject(name, number, classify_identifier(number)[0]) for name, number in people]
    requester = Requester("bench-officer", "bench-team", CASE, "bare-client")
    connector_limit = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector_limit) as session:
        connectors = {
            name: dataclasses.replace(connector, session=_InFlight(session, CONCURRENCY))
            for name, connector in build_connectors(
                session, urls, dict.fromkeys(AGENCIES, 30.0)
            ).items()
        }

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


class _InFlight:
    """The bare client's one courtesy to an agency: at most ``limit`` HTTP requests in
    flight, the agency's limit that the gateway keeps too (its gate). Without it the subsidy
    connector, asking four townships at a time for each of 16 calls, had 64 requests in
    flight where the gateway may have 16: not the same questions at the same concurrency."""

    def __init__(self, session: aiohttp.ClientSession, limit: int) -> None:
        self._session = session
        self._slots = asyncio.Semaphore(limit)

    def request(self, method: str, url: str, **kwargs: Any) -> _OneRequest:
        return _OneRequest(self._session, self._slots, method, url, kwargs)


class _OneRequest:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        slots: asyncio.Semaphore,
        method: str,
        url: str,
        kwargs: dict[str, Any],
    ) -> None:
        self._slots = slots
        self._request = lambda: session.request(method, url, **kwargs)
        self._context: Any = None

    async def __aenter__(self) -> aiohttp.ClientResponse:
        await self._slots.acquire()
        try:
            self._context = self._request()
            return await self._context.__aenter__()
        except BaseException:
            self._slots.release()
            raise

    async def __aexit__(self, *exc_info: Any) -> None:
        try:
            await self._context.__aexit__(*exc_info)
        finally:
            self._slots.release()
