"""Light-load latency: one officer checking one person, as they feel it.

One subject to one zero-latency agency (vehicles), submitted and then polled every 2 ms until
the batch is done, one batch at a time, 40 times: the 202's time and the time from the POST to
``done`` (the answer committed with its audit record). What is measured is the gateway's own
machinery (admission, wake-up, claim, permit, call, group commit), not the agency nor its
rate limit (set to none, as in the throughput scenario).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import aiohttp
from rich.console import Console

from bench.harness import stack
from mocks.population import sample_ids

ROUNDS = 40
POLL_SECONDS = 0.002
CASE = "（2022）吉03执123号"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def run(console: Console) -> list[dict[str, Any]]:
    people = sample_ids(ROUNDS, seed=12)
    accepted: list[float] = []
    finished: list[float] = []
    # No rate limit: forty look-ups one after another would run into the agency's (correctly
    # waiting for send times); measured here is the machinery, as in the throughput scenario.
    env = {"GATEWAY_AGENCY_VEHICLE_MAX_RPS": "0"}
    async with (
        stack(latency="zero", gateway_env=env) as running,
        aiohttp.ClientSession() as session,
    ):
        headers = {"Authorization": f"Bearer {running.token}"}
        for name, number in people:
            body = {
                "case_number": CASE,
                "reason": "benchmark",
                "agencies": ["vehicle"],
                "subjects": [{"name": name, "id_number": number}],
            }
            started = time.perf_counter()
            async with session.post(
                f"{running.gateway_url}/v1/batches", json=body, headers=headers
            ) as response:
                created = await response.json()
                accepted.append(time.perf_counter() - started)
                if response.status != 202:
                    raise RuntimeError(f"refused: {created}")
            url = f"{running.gateway_url}/v1/batches/{created['id']}"
            while True:
                async with session.get(url, headers=headers) as response:
                    status = (await response.json())["status"]
                if status == "done":
                    finished.append(time.perf_counter() - started)
                    break
                await asyncio.sleep(POLL_SECONDS)
    rows: list[dict[str, Any]] = []
    for label, values in (("202", accepted), ("POST to done", finished)):
        median = statistics.median(values) * 1000
        p90 = _percentile(values, 0.9) * 1000
        console.print(f"{label}: median {median:.1f} ms, 90th percentile {p90:.1f} ms")
        rows.append(
            {"scenario": "latency", "metric": f"{label} median (ms)", "value": f"{median:.1f}"}
        )
        rows.append({"scenario": "latency", "metric": f"{label} p90 (ms)", "value": f"{p90:.1f}"})
    return rows
