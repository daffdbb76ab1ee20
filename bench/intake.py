"""Intake: how fast a 100,000-subject list is validated and stored, and the gateway's peak
memory while it is, for a JSON body, a CSV upload and an XLSX upload.

Each list is timed from the start of its request to the 202 (every subject checked, the batch,
its subjects and one inquiry per subject and agency committed). Each batch is cancelled at once,
so that asking the agencies does not share the machine with the next measurement. The peak
resident memory is the gateway process's high-water mark (VmHWM) from the operating system,
read after each list (a high-water mark only grows: each row is the peak so far).
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import aiohttp
from openpyxl import Workbook
from rich.console import Console

from bench.harness import Stack, stack
from connectors.registry import AGENCIES
from mocks.population import sample_ids

SUBJECTS = 100_000
CASE = "（2022）吉03执123号"


def _json(people: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "case_number": CASE,
        "reason": "benchmark",
        "subjects": [{"name": n, "id_number": i} for n, i in people],
    }


def _csv(people: list[tuple[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["序号", "姓名", "身份证号", "备注"])
    writer.writerows((row, n, i, "") for row, (n, i) in enumerate(people, start=1))
    return out.getvalue().encode("utf-8-sig")  # as Excel saves "CSV UTF-8"


def _xlsx(people: list[tuple[str, str]]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("被执行人")
    sheet.append(["序号", "姓名", "身份证号"])
    for row, (name, number) in enumerate(people, start=1):
        sheet.append([row, name, number])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _post(
    session: aiohttp.ClientSession, running: Stack, kind: str, payload: Any
) -> tuple[float, str]:
    headers = {"Authorization": f"Bearer {running.token}"}
    started = time.perf_counter()
    if kind == "json":
        request = session.post(f"{running.gateway_url}/v1/batches", json=payload, headers=headers)
    else:
        form = aiohttp.FormData()
        form.add_field("case_number", CASE)
        form.add_field("reason", "benchmark")
        form.add_field("file", payload, filename=f"list.{kind}")
        request = session.post(
            f"{running.gateway_url}/v1/batches/upload", data=form, headers=headers
        )
    async with request as response:
        body = await response.json()
        seconds = time.perf_counter() - started
        if response.status != 202:
            raise RuntimeError(f"{kind} list refused ({response.status}): {body}")
    batch_id = str(body["id"])
    async with session.post(
        f"{running.gateway_url}/v1/batches/{batch_id}/cancel", headers=headers
    ) as response:
        await response.read()
    return seconds, batch_id


async def run(console: Console) -> list[dict[str, Any]]:
    people = sample_ids(SUBJECTS, seed=99)
    lists: dict[str, Any] = {"json": _json(people), "csv": _csv(people), "xlsx": _xlsx(people)}
    env = {"GATEWAY_MAX_BODY_BYTES": str(64 * 1024 * 1024)}
    rows: list[dict[str, Any]] = []
    async with stack(latency="zero", gateway_env=env) as running, aiohttp.ClientSession() as s:
        console.print(f"intake: {SUBJECTS:,} subjects x {len(AGENCIES)} agencies per list")
        for kind, payload in lists.items():
            size = len(payload) if isinstance(payload, bytes) else 0
            seconds, _ = await _post(s, running, kind, payload)
            peak = _peak_rss_mb(running.gateway_pid)
            console.print(
                f"{kind}: {seconds:.2f} s, {SUBJECTS / seconds:,.0f} subjects/s"
                + (f", file {size / 1e6:.1f} MB" if size else "")
                + f", gateway peak RSS {peak:.0f} MB"
            )
            rows.append(
                {
                    "scenario": "intake",
                    "metric": f"{kind} subjects/s",
                    "value": f"{SUBJECTS / seconds:,.0f}",
                }
            )
            rows.append(
                {"scenario": "intake", "metric": f"{kind} peak RSS (MB)", "value": f"{peak:.0f}"}
            )
    return rows
