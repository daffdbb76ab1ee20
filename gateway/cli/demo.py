"""``gateway demo``: the whole system on one machine, end to end, through the real API.

Starts the embedded PostgreSQL (unless GATEWAY_DATABASE_URL is set), the six mock agencies
and the gateway; issues a demo officer token; submits a batch of synthetic judgment debtors
to every agency; shows progress; prints a per-agency summary, the command centre's wall page
and a commander's sign-in for it; then keeps serving.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from typing import Any

import aiohttp
from aiohttp import web
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from connectors.registry import AGENCIES
from gateway.accountability.admin import Actor
from gateway.accountability.auth import create_token
from gateway.accountability.cases import CaseEntry, register
from gateway.cli.runner import serving, wait_for_stop
from gateway.core.assets import asset_identifiers
from gateway.core.settings import Settings
from gateway.http.app import make_app
from gateway.http.keys import DISPATCHER, POOL
from gateway.store import db
from mocks.population import sample_ids
from mocks.testing import running_mocks

DEMO_CASE = "（2022）吉03执123号"


async def run_demo(settings: Settings, args: argparse.Namespace) -> None:
    console = Console(stderr=False)
    console.rule("[bold]Asset-inquiry gateway demo")
    async with db.database_url(settings.database_url, settings.data_dir) as dsn:
        console.print(f"PostgreSQL: {'external' if settings.database_url else 'embedded'} ✓")
        async with running_mocks(latency=args.latency) as mocks:
            for name in AGENCIES:
                console.print(f"mock agency {name:<11} {mocks.urls[name]}")
            # The demo's one batch is not held for a commander's approval, however large.
            settings = settings.with_agency_urls(mocks.urls).replace(approval_threshold=0)
            app = make_app(settings, dsn)
            async with serving(app, settings.host, settings.port) as base:
                console.print(f"gateway: {base} ✓")
                async with db.connection(app[POOL]) as conn:
                    token = await create_token(
                        conn, officer="demo-officer", role="officer", team="demo-team"
                    )
                    wall_token = await create_token(
                        conn, officer="demo-commander", role="commander", team=None
                    )
                    # Only filed cases may be queried (accountability/rules.py): file the demo's.
                    await register(conn, [CaseEntry(DEMO_CASE, "demo-team")], Actor(None, "demo"))
                # Printed before the batch runs, so that the wall can be watched while it does.
                console.print(f"dashboard: {base}/dashboard  (sign in as demo-commander with:)")
                console.print(wall_token, soft_wrap=True, highlight=False)
                items = [i.strip() for i in args.household_items.split(",") if i.strip()]
                batch_id = await _submit(base, token, args.subjects, items)
                console.print(f"submitted batch {batch_id}: {args.subjects} debtors x 6 agencies")
                await _show_progress(console, base, token, batch_id)
                _summary(console, app, await _get(base, token, f"/v1/batches/{batch_id}"))
                held = await _ask_seal(base, token, batch_id)
                if held is not None:
                    console.print(
                        f"asked a seal (查封) on {held['agency']} asset of row {held['row']}: "
                        f"control {held['id']}, awaiting a commander's approval on the wall",
                        soft_wrap=True,
                    )
                console.print(f"holds:    {base}/controls (demo-officer)", soft_wrap=True)
                console.print(f"\nresults:  {base}/v1/batches/{batch_id}/results", soft_wrap=True)
                console.print(f"API:      {base}/openapi.json", soft_wrap=True)
                console.print(f"metrics:  {base}/metrics", soft_wrap=True)
                console.print(f"dashboard: {base}/dashboard (demo-commander, token above)")
                console.print(f"log:      {settings.data_dir / 'demo.log'}", soft_wrap=True)
                console.print("token (officer demo-officer, team demo-team):")
                console.print(token, soft_wrap=True, highlight=False)
                if not args.exit:
                    console.print("[dim]serving until Ctrl-C[/dim]")
                    await wait_for_stop()


async def _submit(base: str, token: str, count: int, household_items: list[str]) -> str:
    body: dict[str, Any] = {
        "case_number": DEMO_CASE,
        "reason": "演示：查询被执行人名下财产",
        # Each demo run asks again about the same synthetic debtors: say why, as the
        # re-query rule requires of an officer.
        "requery_reason": "演示：再次运行",
        "subjects": [{"name": n, "id_number": i} for n, i in sample_ids(count, seed=2022)],
        "household_items": household_items,
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{base}/v1/batches",
            json=body,
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
        ) as response,
    ):
        payload = await response.json()
        if response.status != 202:
            raise RuntimeError(f"demo batch refused: {payload}")
        return str(payload["id"])


async def _ask_seal(base: str, token: str, batch_id: str) -> dict[str, Any] | None:
    """An officer's next step: a seal on the first property the batch found (it then waits
    for a commander on the wall)."""
    page = await _get(base, token, f"/v1/batches/{batch_id}/results?limit=500")
    for item in page["items"]:
        found = asset_identifiers(item["agency"], item["data"]) if item["data"] else []
        if item["agency"] == "realestate" and found:
            body = {
                "batch_id": batch_id, "row": item["subject"]["row"], "agency": "realestate",
                "asset": found[0], "action": "seal", "reason": "被执行人未履行生效判决，查封其房产",
            }  # fmt: skip
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    f"{base}/v1/controls", json=body, headers={"Authorization": f"Bearer {token}"}
                ) as response,
            ):
                return await response.json() if response.status == 201 else None
    return None


async def _get(base: str, token: str, path: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base}{path}", headers={"Authorization": f"Bearer {token}"}) as response,
    ):
        return await response.json()


async def _show_progress(console: Console, base: str, token: str, batch_id: str) -> None:
    columns = (
        TextColumn("{task.description:<11}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        bars = {name: progress.add_task(name, total=None) for name in AGENCIES}
        while True:
            batch = await _get(base, token, f"/v1/batches/{batch_id}")
            for name, p in batch["progress"].items():
                progress.update(bars[name], total=p["total"], completed=p["done"])
            if batch["status"] in ("done", "cancelled"):
                return
            await asyncio.sleep(0.25)  # screen refresh rate, not synchronisation


def _summary(console: Console, app: web.Application, batch: dict[str, Any]) -> None:
    table = Table(title=f"batch {batch['id']}: {batch['status']}")
    for column in ("agency", "found", "not found", "failed", "median latency"):
        table.add_column(column, justify="left" if column == "agency" else "right")
    callers = app[DISPATCHER].callers
    for name in AGENCIES:
        p = batch["progress"][name]
        median = callers[name].recent.median_latency()
        table.add_row(
            name,
            str(p["found"]),
            str(p["not_found"]),
            str(p["failed"]),
            f"{median * 1000:.0f} ms" if median is not None else "-",
        )
    console.print(table)
