"""Makespan: Siping's 2,059 real-estate subjects asked of all six agencies, as fast as the
agencies' own limits allow, and no faster.

The mocks run with realistic latencies and their default limits (in flight, requests per
second). The gateway is held to the same in-flight limits and to 90% of the rates (a margin for
the scheduling jitter of several processes on one small machine: an agency counts a request
when it arrives). The lower bound is what those limits impose on the busiest agency: its
requests times their mean latency over its in-flight limit, or its requests over its rate,
whichever is larger (requests as the agency counted them, mean latency from the mocks'
profile). The target is a makespan within 1.10 x that bound.

Two more runs, at the same time, each on its own database, mocks and gateway, fault 10 % and
30 % of HTTP requests (500, 503, 429 with Retry-After, a hang past the timeout, a reset
connection, a truncated body, drawn per request): each reports its makespan against the
fault-free run's, HTTP requests and protocol attempts per inquiry, failed inquiries (target
0) and the agencies' breach counters, overall and per agency. Target: 10 % within 1.3 x the
fault-free makespan. ``BENCH_MAKESPAN_SEQUENTIAL=1`` runs them one after the other;
``BENCH_MAKESPAN_SUBJECTS`` changes the 2,059; a run still going after
``BENCH_MAKESPAN_TIMEOUT`` seconds (1,800) is reported as it stands, marked unfinished (at
30 % the retry budget paces the retries, as it should, and a run may take hours).
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
#: seconds a run may take; one still running then is reported as it stands (unfinished)
TIMEOUT = float(os.environ.get("BENCH_MAKESPAN_TIMEOUT", "1800"))
CASE = "（2022）吉03执123号"
#: shares of HTTP requests faulted in the faulty runs
FAULT_SHARES = (0.10, 0.30)
#: how injected faults are split between kinds (each kind's share of the faults)
FAULT_MIX = {"500": 0.2, "503": 0.2, "429": 0.2, "reset": 0.15, "truncate": 0.15, "hang": 0.1}
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
    share: float = 0.0
    #: False: stopped at TIMEOUT; the figures are those of the inquiries answered by then
    finished: bool = True
    inquiries: int = 0
    attempts: int = 0
    failed: int = 0
    per_agency: dict[str, dict[str, float]] = field(default_factory=dict)
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def breaches(self) -> int:
        return sum(s["breaches_total"] for s in self.stats.values())

    @property
    def requests(self) -> int:
        return sum(s["requests"] for s in self.stats.values())

    def agency_inquiries(self, agency: str) -> float:
        return self.per_agency.get(agency, {}).get("inquiries", 0.0)


def fault_spec(share: float) -> dict[str, dict[str, float]]:
    """``share`` of every agency's HTTP requests faulted, split by ``FAULT_MIX``."""
    return {
        agency: {kind: round(share * part, 5) for kind, part in FAULT_MIX.items()}
        for agency in AGENCIES
    }


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
    shares = ", ".join(f"{share:.0%}" for share in FAULT_SHARES)
    console.print(
        f"makespan: {len(subjects)} subjects x {len(AGENCIES)} agencies, realistic latencies, "
        f"the agencies' default limits; runs with {shares} of HTTP requests faulted"
        + (" (sequential)" if SEQUENTIAL else " (at the same time, apart)")
    )
    phases = [_phase(console, subjects, 0.0), *(_phase(console, subjects, s) for s in FAULT_SHARES)]
    if SEQUENTIAL:
        runs = [await phase for phase in phases]
    else:
        runs = list(await asyncio.gather(*phases))
    clean, faulty = runs[0], runs[1:]
    limit, per_agency = bound(clean)
    _show(console, clean, faulty, per_agency)
    rows = [
        _row("subjects x agencies", f"{len(subjects)} x {len(AGENCIES)}"),
        _row("makespan s", f"{clean.makespan:.1f}"),
        _row("lower bound s (busiest agency's limits)", f"{limit:.1f}"),
        _row("ratio (target <= 1.10)", f"{clean.makespan / limit:.3f}"),
        _row("breaches, fault-free", str(clean.breaches)),
        _row("HTTP requests per inquiry, fault-free", f"{clean.requests / clean.inquiries:.2f}"),
    ]
    for run_ in faulty:
        label = f"{run_.share:.0%} of requests faulted"
        target = " (target <= 1.3)" if run_.share <= 0.1 else ""
        span = f"{run_.makespan:.1f}"
        if not run_.finished:
            span = f"> {span} (unfinished: {run_.inquiries} of {clean.inquiries} answered)"
        rows += [
            _row(f"makespan s, {label}", span),
            _row(
                f"makespan vs fault-free, {label}{target}",
                f"{'> ' if not run_.finished else ''}{run_.makespan / clean.makespan:.3f}",
            ),
            _row(f"HTTP requests per inquiry, {label}", f"{run_.requests / run_.inquiries:.2f}"),
            _row(f"attempts per inquiry, {label}", f"{run_.attempts / run_.inquiries:.3f}"),
            _row(f"failed inquiries, {label} (target 0)", str(run_.failed)),
            _row(f"breaches, {label}", str(run_.breaches)),
        ]
    return rows


def _row(metric: str, value: str) -> dict[str, Any]:
    return {"scenario": "makespan", "metric": metric, "value": value}


async def _phase(console: Console, subjects: list[tuple[str, str]], share: float) -> Run:
    name = f"{share:.0%} faulted" if share else "fault-free"
    faults = fault_spec(share) if share else None
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
        finished = True
        try:
            await wait_done(running.database_url, batch_id, timeout=TIMEOUT)
        except RuntimeError:  # not done in time: reported as it stands, never a hang
            finished = False
        result = Run(makespan=time.perf_counter() - started, share=share, finished=finished)
        await _collect(running, batch_id, result)
        total = len(subjects) * len(AGENCIES)
        if finished:
            console.print(f"  {name}: done in {result.makespan:.1f} s")
        else:
            answered = ", ".join(
                f"{agency} {result.agency_inquiries(agency):.0f}" for agency in AGENCIES
            )
            console.print(
                f"  {name}: unfinished after {result.makespan:.0f} s, {result.inquiries} of "
                f"{total} answered ({answered}), {result.failed} failed"
            )
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
            "inquiries": row["n"],
            "attempts": row["attempts"] / row["n"],
            "failed": row["failed"],
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


def _show(console: Console, clean: Run, faulty: list[Run], bounds: dict[str, float]) -> None:
    table = Table(
        title="per agency: fault-free, then each faulted run (requests per inquiry, attempts "
        "per inquiry, failed, done after vs fault-free)"
    )
    for column in ("agency", "limits", "requests", "bound s", "done s", "breaches"):
        table.add_column(column, justify="left" if column == "agency" else "right")
    for run_ in faulty:
        table.add_column(f"{run_.share:.0%}: req/inq, att/inq, failed, ratio", justify="right")
    for agency in AGENCIES:
        in_flight, rate = LIMITS[agency]
        cells = [
            agency,
            f"{in_flight}, {rate:g}/s",
            str(clean.stats[agency]["requests"]),
            f"{bounds[agency]:.1f}",
            f"{clean.per_agency[agency]['done_after']:.1f}",
            " / ".join(_breaches(r.stats[agency]) for r in (clean, *faulty)),
        ]
        for run_ in faulty:
            figures = run_.per_agency.get(
                agency, {"inquiries": 0, "attempts": 0.0, "failed": 0, "done_after": 0.0}
            )
            per_inquiry = run_.stats[agency]["requests"] / max(1.0, figures["inquiries"])
            ratio = figures["done_after"] / clean.per_agency[agency]["done_after"]
            cells.append(
                f"{per_inquiry:.2f}, {figures['attempts']:.3f}, {figures['failed']:.0f}, "
                f"{ratio:.2f}"
            )
        table.add_row(*cells)
    console.print(table)


def _breaches(stats: dict[str, Any]) -> str:
    kinds = stats["breaches"]
    if not kinds:
        return "0"
    return " ".join(f"{kind}:{count}" for kind, count in sorted(kinds.items()))
