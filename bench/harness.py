"""Pieces every benchmark scenario needs: an embedded PostgreSQL, the mocks and the gateway
as separate processes on loopback, a token, a submitted batch, and a wait for it to finish."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import psutil

from connectors.registry import AGENCIES
from gateway.accountability.auth import create_token
from gateway.store import db, migrations
from gateway.store.crypto import generate_key
from gateway.store.embedded import EmbeddedPostgres

#: both processes of a test (or the bench) share these, as replicas would
DATA_KEY, DIGEST_KEY = generate_key(), generate_key()
ROOT = Path(__file__).resolve().parents[1]


def free_port_block(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + count < 65000 and all(_free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no block of free ports found")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def wait_http(url: str, timeout: float = 30.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up")
            await asyncio.sleep(0.1)


@dataclass
class Stack:
    database_url: str
    gateway_url: str
    agency_urls: dict[str, str]
    token: str
    data_dir: Path
    #: the gateway's process id (its memory and CPU, from the operating system)
    gateway_pid: int
    #: the stand-in agencies' process id
    mocks_pid: int
    #: the database server (bench/chaos.py restarts it)
    postgres: EmbeddedPostgres
    #: the gateway's environment, to start more replicas with (another GATEWAY_PORT)
    gateway_env: dict[str, str]


def cpu_seconds(running: Stack) -> dict[str, float]:
    """CPU time (user + system) used so far, from the operating system: the gateway, the
    stand-in agencies, and PostgreSQL (its postmaster with every backend, the ended ones
    included: the postmaster's children times)."""

    def own(process: psutil.Process) -> float:
        times = process.cpu_times()
        return times.user + times.system

    pid_file = running.data_dir / "pg" / "postmaster.pid"
    postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
    reaped = postmaster.cpu_times()
    postgres = own(postmaster) + reaped.children_user + reaped.children_system
    for child in postmaster.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            postgres += own(child)
    return {
        "gateway": own(psutil.Process(running.gateway_pid)),
        "mocks": own(psutil.Process(running.mocks_pid)),
        "postgres": postgres,
    }


def own_cpu_seconds() -> float:
    """This process's CPU time (the bare client runs in it)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextlib.asynccontextmanager
async def stack(
    *,
    latency: str = "zero",
    mock_limits: bool = False,
    gateway_env: Mapping[str, str] | None = None,
    faults: Mapping[str, Mapping[str, float]] | None = None,
) -> AsyncIterator[Stack]:
    """Embedded PostgreSQL, ``python -m mocks`` and ``gateway serve``, each its own process."""
    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as tmp:
        data_dir = Path(tmp)
        server = EmbeddedPostgres(data_dir)
        database_url = server.start()
        processes: list[asyncio.subprocess.Process] = []
        try:
            conn = await db.connect(database_url)
            try:
                await migrations.migrate(conn)
                token = await create_token(
                    conn, officer="bench-officer", role="officer", team="bench-team"
                )
            finally:
                await conn.close()
            mock_port = free_port_block(len(AGENCIES))
            mock_args = ["--latency", latency, "--base-port", str(mock_port)]
            mock_args.append("--limits" if mock_limits else "--no-limits")
            for agency, kinds in (faults or {}).items():
                for kind, fraction in kinds.items():
                    mock_args += ["--fault", f"{agency}:{kind}={fraction}"]
            processes.append(await spawn([sys.executable, "-m", "mocks", *mock_args], {}))
            urls = {name: f"http://127.0.0.1:{mock_port + i}" for i, name in enumerate(AGENCIES)}
            for url in urls.values():
                await wait_http(url + "/admin/stats")
            gateway_port = free_port_block(1)
            env = {
                "GATEWAY_DATABASE_URL": database_url,
                "GATEWAY_DATA_DIR": str(data_dir),
                "GATEWAY_DATA_KEY": DATA_KEY,
                "GATEWAY_DIGEST_KEY": DIGEST_KEY,
                "GATEWAY_PORT": str(gateway_port),
                "GATEWAY_LOG_LEVEL": "warning",
                # One large synthetic batch: no filed-case register, no approval hold, no
                # quota or re-query window (the rules cost nothing measurable either way).
                "GATEWAY_REQUIRE_FILED_CASE": "false",
                "GATEWAY_APPROVAL_THRESHOLD": "0",
                "GATEWAY_QUOTA_SUBJECTS_PER_DAY": "0",
                "GATEWAY_REQUERY_DAYS": "0",
                "GATEWAY_WORKING_HOURS": "",
                **{f"GATEWAY_AGENCY_{n.upper()}_URL": u for n, u in urls.items()},
                **(gateway_env or {}),
            }
            processes.append(await spawn([sys.executable, "-m", "gateway", "serve"], env))
            gateway_url = f"http://127.0.0.1:{gateway_port}"
            await wait_http(gateway_url + "/readyz")
            mocks_pid, gateway_pid = processes[0].pid, processes[-1].pid
            yield Stack(
                database_url, gateway_url, urls, token, data_dir, gateway_pid, mocks_pid,
                server, env,
            )  # fmt: skip
        finally:
            for process in reversed(processes):
                if process.returncode is None:
                    process.terminate()
                    try:
                        await asyncio.wait_for(process.wait(), 20)
                    except TimeoutError:
                        process.kill()
                        await process.wait()
            server.stop()


async def spawn(argv: list[str], env: Mapping[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *argv,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def submit(stack: Stack, body: dict[str, Any]) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            stack.gateway_url + "/v1/batches",
            json=body,
            headers={"Authorization": f"Bearer {stack.token}"},
        ) as response,
    ):
        payload = await response.json()
        if response.status != 202:
            raise RuntimeError(f"batch refused: {payload}")
        return str(payload["id"])


async def wait_done(database_url: str, batch_id: str, timeout: float = 1800) -> float:  # noqa: ASYNC109
    """Seconds until the batch is done, read from the database (another process's state)."""
    started = time.perf_counter()
    conn = await asyncpg.connect(database_url)
    try:
        while True:
            status = await conn.fetchval("SELECT status FROM batches WHERE id = $1", batch_id)
            if status in ("done", "cancelled"):
                return time.perf_counter() - started
            if time.perf_counter() - started > timeout:
                raise RuntimeError("batch did not finish in time")
            await asyncio.sleep(0.02)
    finally:
        await conn.close()
