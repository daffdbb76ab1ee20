"""Chaos: one batch of 10,002 inquiries on two replicas while one of them is killed with
SIGKILL five times (and started again each time) and PostgreSQL is restarted once.

Kills and the restart are spaced by the batch's progress (results recorded), never by time.
Printed: inquiries lost (must be 0), results recorded twice (must be 0), agency questions
asked again (counted by the stand-in agencies per subject) against the bound the issue sets
(what the killed replica held at each kill: its calls in flight and its results awaiting
their group commit are all leased to it), the audit chain's verification, and the time from
submission to done. The default 30 s lease is kept: a killed replica's work waits it out.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import time
from typing import Any

import aiohttp
import asyncpg
from rich.console import Console

from bench.harness import Stack, free_port_block, spawn, stack, submit, wait_done, wait_http
from connectors.registry import AGENCIES
from gateway.accountability import audit
from gateway.store import db
from mocks.population import sample_ids

SUBJECTS = 1667  # x 6 agencies = 10,002 inquiries
KILLS = 5
#: share of the results recorded before each kill, and before the database restart
KILL_AT = (0.10, 0.22, 0.34, 0.58, 0.70)
RESTART_AT = 0.46
CASE = "（2022）吉03执123号"


async def run(console: Console) -> list[dict[str, Any]]:
    subjects = sample_ids(SUBJECTS, seed=4242)
    total = len(subjects) * len(AGENCIES)
    # Each agency's calls are limited only by in-flight counts (zero-latency stand-ins without
    # limits): the batch is over quickly, and the kills land while much is in flight.
    env = {f"GATEWAY_AGENCY_{name.upper()}_MAX_RPS": "0" for name in AGENCIES}
    async with stack(latency="zero", gateway_env=env) as running:
        console.print(f"chaos: {SUBJECTS} subjects x {len(AGENCIES)} agencies = {total}")
        started_replicas: list[Replica] = []
        try:
            body = {
                "case_number": CASE,
                "reason": "chaos benchmark",
                "subjects": [{"name": n, "id_number": i} for n, i in subjects],
            }
            started_replicas.append(await _replica(running))
            started = time.perf_counter()
            batch_id = await submit(running, body)
            held = await _chaos(console, running, started_replicas, total)
            await wait_done(running.database_url, batch_id)
            seconds = time.perf_counter() - started
        finally:
            for replica in started_replicas:
                await _stop(replica)
        figures = await _figures(running, batch_id, total)
        asked_again = await _asked_again(running)
    console.print(f"  done in {seconds:.1f} s; killed replicas held {held} inquiries")
    verified = "intact" if figures["broken"] is None else f"BROKEN at {figures['broken']}"
    return [
        _row("inquiries", f"{total:,}"),
        _row("replica kills (SIGKILL) / database restarts", f"{KILLS} / 1"),
        _row("inquiries lost (must be 0)", str(figures["lost"])),
        _row("results recorded twice (must be 0)", str(figures["doubled"])),
        _row("agency questions asked again", str(asked_again)),
        _row("bound: leased to the killed replica at its kills", str(held)),
        _row("asked again within the bound", "yes" if asked_again <= held else "NO"),
        _row("audit chain", f"{verified}, {figures['audited']:,} records"),
        _row("time to finish (s)", f"{seconds:.1f}"),
    ]


def _row(metric: str, value: str) -> dict[str, Any]:
    return {"scenario": "chaos", "metric": metric, "value": value}


#: a second gateway process and its URL
Replica = tuple[asyncio.subprocess.Process, str]


async def _replica(running: Stack) -> Replica:
    """A second ``gateway serve`` beside the stack's: (process, its URL)."""
    port = free_port_block(1)
    env = {**running.gateway_env, "GATEWAY_PORT": str(port)}
    process = await spawn([sys.executable, "-m", "gateway", "serve"], env)
    url = f"http://127.0.0.1:{port}"
    await wait_http(url + "/readyz", timeout=60)
    return process, url


async def _stop(replica: Replica) -> None:
    process = replica[0]
    if process.returncode is None:
        process.kill()
        await process.wait()


async def _chaos(
    console: Console,
    running: Stack,
    replicas: list[Replica],
    total: int,
) -> int:
    """Kill the last of ``replicas`` at each KILL_AT (each one started appended) and restart
    the database at RESTART_AT: the inquiries leased to the killed ones at their kills."""
    held = 0
    steps = sorted([(at, "kill") for at in KILL_AT] + [(RESTART_AT, "restart")])
    for at, step in steps:
        await _progress(running, int(total * at))
        if step == "restart":
            started = time.perf_counter()
            await asyncio.to_thread(running.postgres.halt, "fast")
            await asyncio.to_thread(running.postgres.resume)
            console.print(f"  database restarted ({time.perf_counter() - started:.1f} s)")
            continue
        # Its GATEWAY_WORKER_ID default; leases name it with a suffix per dispatcher.
        victim = replicas[-1]
        owner = f"{socket.gethostname()}:{victim[0].pid}"
        victim[0].send_signal(signal.SIGKILL)
        await victim[0].wait()
        leased = await _leased_to(running, owner)
        held += leased
        console.print(f"  killed {owner} at {at:.0%} holding {leased} inquiries")
        replicas.append(await _replica(running))
    return held


async def _progress(running: Stack, results: int) -> None:
    """Return once ``results`` results are recorded (another process's state: polled)."""
    while True:
        try:
            conn = await asyncpg.connect(running.database_url)
            try:
                if await conn.fetchval("SELECT count(*) FROM results") >= results:
                    return
            finally:
                await conn.close()
        except (OSError, asyncpg.PostgresError):
            pass  # the database restarting
        await asyncio.sleep(0.05)


async def _leased_to(running: Stack, owner: str) -> int:
    conn = await asyncpg.connect(running.database_url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM inquiries WHERE state = 'leased' AND lease_owner LIKE $1",
                owner + ":%",
            )
        )
    finally:
        await conn.close()


async def _figures(running: Stack, batch_id: str, total: int) -> dict[str, Any]:
    conn = await db.connect(running.database_url)
    try:
        answered = await conn.fetchval(
            "SELECT count(*) FROM inquiries i JOIN results r ON r.inquiry_id = i.id"
            " WHERE i.batch_id = $1",
            batch_id,
        )
        doubled = await conn.fetchval(
            "SELECT count(*) FROM (SELECT 1 FROM audit_log WHERE batch_id = $1"
            " AND action = 'inquiry.result' GROUP BY row, agency HAVING count(*) > 1) d",
            batch_id,
        )
        verification = await audit.verify(conn)
    finally:
        await conn.close()
    broken = verification.first_broken
    return {
        "lost": total - answered,
        "doubled": doubled,
        "audited": verification.checked,
        "broken": None if broken is None else broken.message,
    }


async def _asked_again(running: Stack) -> int:
    """Questions the stand-in agencies were asked more than once about the same subject."""
    again = 0
    async with aiohttp.ClientSession() as session:
        for url in running.agency_urls.values():
            async with session.get(url + "/admin/stats") as response:
                again += int((await response.json())["asked_again"])
    return again
