"""Intake: how fast a 100,000-subject list is validated and stored, and the gateway's peak
memory while it is, for a JSON body, a CSV upload and an XLSX upload.

Each list is timed from the start of its request to the 202 (every subject checked, the batch
and its sealed subjects committed); three lists per format, of which the median and the range
are reported (this machine's speed varies by a third from one hour to the next). The first
of each is also timed to the moment the last of its inquiries is stored (the gateway stores
them a chunk at a time after the 202, asking the agencies meanwhile). Each batch is then
cancelled, vacuumed and checkpointed, so that its work does not share the machine with the
next measurement. The peak resident memory is the gateway process's high-water mark (VmHWM)
from the operating system, read after each list (a high-water mark only grows: each row is
the peak so far). The gateway's helper process (GATEWAY_INTAKE_PROCESSES) is not counted in
it (it held up to 90 MB here).

The workbook is written as Excel and WPS save one (XlsxWriter: shared strings and the sheet's
dimension; openpyxl's own writer leaves both out, which makes any reader slower).
"""

from __future__ import annotations

import asyncio
import csv
import io
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import xlsxwriter  # type: ignore[import-untyped]
from rich.console import Console

from bench.harness import Stack, stack
from connectors.registry import AGENCIES
from mocks.population import sample_ids

SUBJECTS = 100_000
WARM_UP = 5_000
#: lists per format: the median is reported (and the range), the first list also measured
#: until every inquiry is stored while the agencies are asked; the others are cancelled at
#: their 202
RUNS = 3
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
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = workbook.add_worksheet("被执行人")
    sheet.write_row(0, 0, ["序号", "姓名", "身份证号"])
    for row, (name, number) in enumerate(people, start=1):
        sheet.write_row(row, 0, [row, name, number])
    workbook.close()
    return out.getvalue()


async def _all_queued(database_url: str, batch_id: str) -> None:
    """Until every subject's inquiries are stored (a bench may poll; tests may not)."""
    conn = await asyncpg.connect(database_url)
    try:
        query = "SELECT unqueued_from IS NULL FROM batches WHERE id = $1::uuid"
        while True:  # another process's state: read, not awaited
            if await conn.fetchval(query, batch_id):
                return
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _post(
    session: aiohttp.ClientSession,
    running: Stack,
    kind: str,
    payload: Any,
    cancel_at_once: bool = False,
) -> tuple[float, float]:
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
    cancel = f"{running.gateway_url}/v1/batches/{batch_id}/cancel"
    if cancel_at_once:  # a repeat: only its 202 is measured
        async with session.post(cancel, headers=headers) as response:
            await response.read()
    await _all_queued(running.database_url, batch_id)
    queued = time.perf_counter() - started
    async with session.post(cancel, headers=headers) as response:
        await response.read()
    # Cancelling 600,000 inquiries leaves work for autovacuum, and a checkpoint due; done
    # here, neither shares the machine with the next list.
    conn = await asyncpg.connect(running.database_url)
    try:
        await conn.execute("VACUUM ANALYZE inquiries, subjects, audit_log")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    return seconds, queued


async def run(console: Console) -> list[dict[str, Any]]:
    # a list of other people each time, as lists are: the same 100,000 people again and
    # again would measure the cross-team check of ever more earlier batches (each asked again)
    makers = {"json": _json, "csv": _csv, "xlsx": _xlsx}
    env = {"GATEWAY_MAX_BODY_BYTES": str(64 * 1024 * 1024)}
    rows: list[dict[str, Any]] = []
    async with stack(latency="zero", gateway_env=env) as running, aiohttp.ClientSession() as s:
        console.print(
            f"intake: {SUBJECTS:,} subjects x {len(AGENCIES)} agencies per list, "
            f"{RUNS} lists per format (the machine's speed varies from one to the next)"
        )
        # A served gateway is warm: the first list of a fresh process also pays for loading
        # what every later one reuses (the area-code table, the validators, the pool).
        await _post(s, running, "json", _json(sample_ids(WARM_UP, seed=7)))
        for position, (kind, make) in enumerate(makers.items()):
            rates: list[float] = []
            for run in range(RUNS):
                payload = make(sample_ids(SUBJECTS, seed=100 + RUNS * position + run))
                seconds, queued = await _post(s, running, kind, payload, cancel_at_once=run > 0)
                rates.append(SUBJECTS / seconds)
                peak = _peak_rss_mb(running.gateway_pid)
                size = f", file {len(payload) / 1e6:.1f} MB" if isinstance(payload, bytes) else ""
                stored = f"; every inquiry stored after {queued:.2f} s" if run == 0 else ""
                console.print(
                    f"{kind} #{run + 1}: 202 after {seconds:.2f} s, {rates[-1]:,.0f} subjects/s"
                    f"{size}, gateway peak RSS {peak:.0f} MB{stored}"
                )
                if run == 0:
                    rows.append(_row(f"{kind} all inquiries stored (s)", f"{queued:.1f}"))
            rows.append(_row(f"{kind} subjects/s (median)", f"{statistics.median(rates):,.0f}"))
            rows.append(_row(f"{kind} subjects/s (range)", f"{min(rates):,.0f}-{max(rates):,.0f}"))
            rows.append(_row(f"{kind} peak RSS (MB)", f"{_peak_rss_mb(running.gateway_pid):.0f}"))
    return rows


def _row(metric: str, value: str) -> dict[str, Any]:
    return {"scenario": "intake", "metric": metric, "value": value}
