"""Makespan: Siping's 2,059 real-estate subjects asked of all six agencies, as fast as the
agencies' own limits allow, and no faster.

The mocks run with realistic latencies and their default limits (in flight, requests per
second). The gateway is held to the same in-flight limits and to 90% of the rates (a margin for
the scheduling jitter of several processes on one small machine: an agency counts a request
when it arrives). The lower bound is what those limits impose on the busiest agency: its
requests times their mean latency over its in-flight limit, or its requests over its rate,
whichever is larger (requests as the agency counted them, mean latency from the mocks'
profile). The target is a makespan within 1.10 x that bound.

A second run, at the same time on its own database, mocks and gateway, injects faults into
10% of agency calls (the per-request rate is scaled by the requests a call makes, so a
township listing of 13 requests is not failed 76% of the time) and reports attempts per
inquiry and the agencies' breach counters. ``BENCH_MAKESPAN_SEQUENTIAL=1`` runs the two one
after the other; ``BENCH_MAKESPAN_SUBJECTS`` changes the 2,059.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
from rich.console import Console
from rich.table import Table

from bench.harness import Stack, stack, submit, wait_done
from connectors.registry import AGENCIES
from mocks.faults import DEFAULT_LIMITS, REALISTIC
from mocks.population import sample_ids

SUBJECTS = int(os.environ.get("BENCH_MAKESPAN_SUBJECTS", "2059"))
SEQUENTIAL = os.environ.get("BENCH_MAKESPAN_SEQUENTIAL", "") not in ("", "0")
CASE = "（2022）吉03执123号"
FAULT_SHARE = 0.10
#: how injected faults are split between kinds (each kind's share of the faults)
FAULT_MIX = {"500": 0.2, "503": 0.2, "429": 0.2, "reset": 0.15, "truncate": 0.1, "malformed": 0.1}
FAULT_MIX["hang"] = 1 - sum(FAULT_MIX.values())
#: HTTP requests one attempt makes for a person under the realistic profile, as measured by a
#: fault-free run: the photo after the identity, ticket and acknowledgement polls, twelve
#: township listings (and a page more for some).
REQUESTS_PER_ATTEMPT = {
    "household": 1.98,
    "realestate": 6.7,
    "vehicle": 1.0,
    "forestry": 1.0,
    "subsidy": 13.6,
    "police": 2.7,
}
RATE_MARGIN = 0.9
#: (max in flight, max requests/s) the gateway holds each agency to
LIMITS: dict[str, tuple[int, float]] = {
    name: (limits.max_in_flight or 0, (limits.max_per_second or 0) * RATE_MARGIN)
    for name, limits in DEFAULT_LIMITS.items()
}
#: the gateway held to the agencies' limits (the harness switches the admission rules off)
GATEWAY_ENV = {
    **{f"GATEWAY_AGENCY_{name.upper()}_MAX_IN_FLIGHT": str(f) for name, (f, _) in LIMITS.items()},
    **{f"GATEWAY_AGENCY_{name.upper()}_MAX_RPS": str(r) for name, (_, r) in LIMITS.items()},
}
_CALLS = re.compile(r'^gateway_agency_calls_total\{agency="(\w+)",outcome="(\w+)"\} ([0-9.e+]+)$')


@dataclass
class Run:
    makespan: float
    inquiries: int = 0
    attempts: int = 0
    failed: int = 0
    per_agency: dict[str, dict[str, float]] = field(default_factory=dict)
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def breaches(self) -> int:
        return sum(s["breaches_total"] for s in self.stats.values())


def fault_spec() -> dict[str, dict[str, float]]:
    spec = {}
    for agency in AGENCIES:
        per_request = 1 - (1 - FAULT_SHARE) ** (1 / REQUESTS_PER_ATTEMPT[agency])
        spec[agency] = {kind: round(per_request * share, 5) for kind, share in FAULT_MIX.items()}
    return spec


def bound(run: Run) -> tuple[float, dict[str, float]]:
    """Seconds the agencies' limits impose on the given run's work, per agency and overall."""
    per_agency = {}
    for agency in AGENCIES:
        requests = run.stats[agency]["requests"]
        low, high = REALISTIC[agency].request
        in_flight, rate = LIMITS[agency]
        by_concurrency = requests * (low + high) / 2 / in_flight
        by_rate = requests / rate
        per_agency[agency] = max(by_concurrency, by_rate)
    return max(per_agency.values()), per_agency


async def run(console: Console) -> list[dict[str, Any]]:
    subjects = sample_ids(SUBJECTS, seed=2059)
    console.print(
        f"makespan: {len(subjects)} subjects x {len(AGENCIES)} agencies, realistic latencies, "
        f"the agencies' default limits; a second run with {FAULT_SHARE:.0%} of calls faulted"
        + (" (sequential)" if SEQUENTIAL else " (at the same time, apart)")
    )
    if SEQUENTIAL:
        clean = await _phase(console, subjects, None)
        faulty = await _phase(console, subjects, fault_spec())
    else:
        clean, faulty = await asyncio.gather(
            _phase(console, subjects, None), _phase(console, subjects, fault_spec())
        )
    limit, per_agency = bound(clean)
    _show(console, clean, faulty, per_agency)
    ratio = clean.makespan / limit
    row = _row
    return [
        row("subjects x agencies", f"{len(subjects)} x {len(AGENCIES)}"),
        row("makespan s", f"{clean.makespan:.1f}"),
        row("lower bound s (busiest agency's limits)", f"{limit:.1f}"),
        row("ratio (target <= 1.10)", f"{ratio:.3f}"),
        row("breaches, fault-free", str(clean.breaches)),
        row("makespan s, 10% faults", f"{faulty.makespan:.1f}"),
        row("attempts per inquiry, 10% faults", f"{faulty.attempts / faulty.inquiries:.3f}"),
        row("failed inquiries, 10% faults", str(faulty.failed)),
        row("breaches, 10% faults", str(faulty.breaches)),
    ]


def _row(metric: str, value: str) -> dict[str, Any]:
    return {"scenario": "makespan", "metric": metric, "value": value}


async def _phase(
    console: Console, subjects: list[tuple[str, str]], faults: dict[str, dict[str, float]] | None
) -> Run:
    name = "faults" if faults else "clean"
    async with stack(
        latency="realistic", mock_limits=True, gateway_env=GATEWAY_ENV, faults=faults
    ) as running:
        body = {
            "case_number": CASE,
            "reason": "benchmark",
            "subjects": [{"name": n, "id_number": i} for n, i in subjects],
        }
        started = time.perf_counter()
        batch_id = await submit(running, body)
        # A run that cannot finish ends here (about three times the bound), never hangs.
        await wait_done(running.database_url, batch_id, timeout=1800)
        result = Run(makespan=time.perf_counter() - started)
        console.print(f"  {name}: done in {result.makespan:.1f} s")
        await _collect(running, batch_id, result)
    return result


async def _collect(running: Stack, batch_id: str, result: Run) -> None:
    conn = await asyncpg.connect(running.database_url)
    try:
        rows = await conn.fetch(
            """SELECT r.agency, count(*) AS n, sum(r.attempts) AS attempts,
                      count(*) FILTER (WHERE r.status = 'failed') AS failed,
                      extract(epoch FROM max(r.completed_at) - b.created_at)::float8 AS done_after
               FROM results r JOIN batches b ON b.id = r.batch_id
               WHERE r.batch_id = $1 GROUP BY r.agency, b.created_at""",
            batch_id,
        )
    finally:
        await conn.close()
    for row in rows:
        result.inquiries += row["n"]
        result.attempts += row["attempts"]
        result.failed += row["failed"]
        result.per_agency[row["agency"]] = {
            "attempts": row["attempts"] / row["n"],
            "done_after": row["done_after"],
        }
    async with aiohttp.ClientSession() as session:
        for agency, url in running.agency_urls.items():
            async with session.get(url + "/admin/stats") as response:
                result.stats[agency] = await response.json()
        async with session.get(running.gateway_url + "/metrics") as response:
            text = await response.text()
    for line in text.splitlines():
        match = _CALLS.match(line)
        if match:
            agency, outcome, value = match.groups()
            result.calls.setdefault(agency, {})[outcome] = float(value)


def _show(console: Console, clean: Run, faulty: Run, bounds: dict[str, float]) -> None:
    table = Table(
        title="per agency (* = the run with 10% of calls faulted; breaches: clean / faulted)"
    )
    for column in ("agency", "limits", "requests", "bound s", "done s", "failed*", "att.*"):
        table.add_column(column, justify="left" if column == "agency" else "right")
    table.add_column("breaches", justify="right")
    for agency in AGENCIES:
        calls = faulty.calls.get(agency, {})
        total = sum(calls.values())
        failed = total - calls.get("ok", 0.0)
        in_flight, rate = LIMITS[agency]
        table.add_row(
            agency,
            f"{in_flight}, {rate:g}/s",
            str(clean.stats[agency]["requests"]),
            f"{bounds[agency]:.1f}",
            f"{clean.per_agency[agency]['done_after']:.1f}",
            f"{failed / total:.1%}" if total else "-",
            f"{faulty.per_agency[agency]['attempts']:.3f}",
            f"{_breaches(clean.stats[agency])} / {_breaches(faulty.stats[agency])}",
        )
    console.print(table)


def _breaches(stats: dict[str, Any]) -> str:
    kinds = stats["breaches"]
    if not kinds:
        return "0"
    return " ".join(f"{kind}:{count}" for kind, count in sorted(kinds.items()))
