"""A lifecycle run of control actions: from found assets to holds in effect, renewed and
released, against the stand-in agencies at their realistic latencies.

60 debtors are asked of the four agencies that hold assets; on the first asset of every found
result an officer asks for the hold its kind takes (a freeze of 100 yuan on a subsidy
account), a commander approves each, and the gateway sends the orders. Measured through the
API, as an officer and a commander feel it: the 201 of a request, approval to the agency's
answer recorded (in effect or in line), and the same for a renewal and a release. Then the
agencies' own books are compared with the gateway's: one hold per control, each receipt the
gateway recorded, and how many requests each took; and the audit chain is verified.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import aiohttp
from rich.console import Console

from bench.harness import Stack, stack, submit, wait_done
from connectors.controls import CONTROL_ACTIONS
from gateway.accountability.auth import create_token
from gateway.core.assets import asset_identifiers
from gateway.store import db
from mocks.population import sample_ids

CASE = "（2022）吉03执123号"
DEBTORS = 60
AGENCIES = ("realestate", "vehicle", "forestry", "subsidy")
FINAL = {"hold": ("in_effect", "queued_behind", "refused"), "renew": ("in_effect",),
         "release": ("released",)}  # fmt: skip
POLL_SECONDS = 0.02


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def _token(running: Stack, role: str, team: str | None) -> str:
    conn = await db.connect(running.database_url)
    try:
        return await create_token(conn, officer=f"bench-{role}", role=role, team=team)  # type: ignore[arg-type]
    finally:
        await conn.close()


async def _assets(session: aiohttp.ClientSession, url: str, batch_id: str) -> list[dict[str, Any]]:
    """What to ask for: the first asset of every found result."""
    wanted: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
        async with session.get(f"{url}/v1/batches/{batch_id}/results", params=params) as r:
            page = await r.json()
        for item in page["items"]:
            found = asset_identifiers(item["agency"], item["data"]) if item["data"] else []
            if item["status"] == "found" and found:
                action = sorted(CONTROL_ACTIONS[item["agency"]])[0]
                body = {
                    "batch_id": batch_id, "row": item["subject"]["row"],
                    "agency": item["agency"], "asset": found[0], "action": action,
                    "reason": "benchmark",
                    **({"amount": "100.00"} if action == "freeze" else {}),
                }  # fmt: skip
                wanted.append(body)
        cursor = page["next_cursor"]
        if cursor is None:
            return wanted


async def _until_answered(
    session: aiohttp.ClientSession, url: str, started: dict[int, float], operation: str
) -> dict[int, float]:
    """Seconds from each control's step to the agency's answer recorded, read from the API."""
    answered: dict[int, float] = {}
    while len(answered) < len(started):
        async with session.get(f"{url}/v1/controls", params={"limit": "500"}) as r:
            page = await r.json()
        now = time.perf_counter()
        for c in page["items"]:
            if c["id"] in started and c["id"] not in answered and c["sending"] is None:
                if c["status"] in FINAL[operation]:
                    answered[c["id"]] = now - started[c["id"]]
        await asyncio.sleep(POLL_SECONDS)
    return answered


async def run(console: Console) -> list[dict[str, Any]]:
    # The holds are renewed at once: a reminder window longer than any term lets them be
    # (a renewal is otherwise asked within GATEWAY_EXPIRY_WINDOW_DAYS of the last day).
    async with stack(
        latency="realistic", gateway_env={"GATEWAY_EXPIRY_WINDOW_DAYS": "3700"}
    ) as running:
        commander = await _token(running, "commander", None)
        conn = await db.connect(running.database_url)
        try:  # a hold is on a filed case (the stack files none: its batches need not be)
            await conn.execute(
                "INSERT INTO cases (case_number, team_id, registered_by, amount_to_enforce)"
                " SELECT $1, id, 'bench', 1000000"
                " FROM teams WHERE name = 'bench-team'", CASE,
            )  # fmt: skip
        finally:
            await conn.close()
        officer = {"Authorization": f"Bearer {running.token}"}
        people = sample_ids(DEBTORS, seed=33, organisations=0.0)
        batch_id = await submit(running, {
            "case_number": CASE, "reason": "benchmark", "agencies": list(AGENCIES),
            "subjects": [{"name": n, "id_number": i} for n, i in people],
        })  # fmt: skip
        await wait_done(running.database_url, batch_id)
        url = running.gateway_url
        timings: dict[str, list[float]] = {}
        async with aiohttp.ClientSession(headers=officer) as session:
            asks = await _assets(session, url, batch_id)
            ids: list[int] = []
            took: list[float] = []
            for body in asks:
                started = time.perf_counter()
                async with session.post(f"{url}/v1/controls", json=body) as r:
                    made = await r.json()
                    if r.status != 201:
                        raise RuntimeError(f"refused: {made}")
                took.append(time.perf_counter() - started)
                ids.append(made["id"])
            timings["request (201)"] = took
            for operation, path, who in (
                ("hold", "approve", {"Authorization": f"Bearer {commander}"}),
                ("renew", "renew", officer),
                ("release", "release", officer),
            ):
                started_at: dict[int, float] = {}
                for control_id in ids:
                    started_at[control_id] = time.perf_counter()
                    async with session.post(
                        f"{url}/v1/controls/{control_id}/{path}", headers=who
                    ) as r:
                        if r.status != 200:
                            raise RuntimeError(f"{path} refused: {await r.json()}")
                answered = await _until_answered(session, url, started_at, operation)
                timings[f"{path} to answer recorded"] = list(answered.values())
            async with session.get(f"{url}/v1/controls", params={"limit": "500"}) as r:
                mine = {c["receipt_no"] for c in (await r.json())["items"]}
        books = await _books(running)
        chain = await _verify(running)
    rows = [
        {"scenario": "controls", "metric": "controls (holds asked, approved, renewed, released)",
         "value": str(len(ids))},
    ]  # fmt: skip
    for label, values in timings.items():
        median, p90 = statistics.median(values) * 1000, _percentile(values, 0.9) * 1000
        console.print(f"{label}: median {median:.0f} ms, 90th percentile {p90:.0f} ms")
        rows.append({"scenario": "controls", "metric": f"{label}, median / p90 (ms)",
                     "value": f"{median:.0f} / {p90:.0f}"})  # fmt: skip
    holds = [h for agency in AGENCIES for h in books[agency]["holds"]]
    created = sum(books[a]["stats"]["holds_created"] for a in AGENCIES)
    requests = sum(books[a]["stats"]["control_requests"] for a in AGENCIES)
    same = {h["receipt_no"] for h in holds} == mine
    rows += [
        {"scenario": "controls", "metric": "holds at the agencies / receipts match the gateway's",
         "value": f"{created} / {'yes' if same else 'NO'}"},
        {"scenario": "controls", "metric": "requests per control (hold, renewal, release)",
         "value": f"{requests / max(1, len(ids)):.2f}"},
        {"scenario": "controls", "metric": "audit chain", "value": chain},
    ]  # fmt: skip
    return rows


async def _books(running: Stack) -> dict[str, dict[str, Any]]:
    """Each agency's control desk: its holds and its counts."""
    books: dict[str, dict[str, Any]] = {}
    async with aiohttp.ClientSession() as session:
        for agency in AGENCIES:
            base = running.agency_urls[agency]
            async with session.get(f"{base}/admin/controls") as r:
                holds = (await r.json())["holds"]
            async with session.get(f"{base}/admin/stats") as r:
                stats = await r.json()
            books[agency] = {"holds": holds, "stats": stats}
    return books


async def _verify(running: Stack) -> str:
    auditor = await _token(running, "auditor", None)
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {auditor}"}) as session,
        session.get(f"{running.gateway_url}/v1/audit/verify") as r,
    ):
        result = await r.json()
    return f"{'intact' if result['ok'] else 'BROKEN'}, {result['checked']} records"
