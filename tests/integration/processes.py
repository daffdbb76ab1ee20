"""The gateway in processes of its own (``python -m gateway serve``), as replicas run."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from gateway.store.crypto import generate_key

#: every process of a test (or the bench) shares these, as replicas would
DATA_KEY, DIGEST_KEY = generate_key(), generate_key()
ROOT = Path(__file__).resolve().parents[2]


#: below Linux's ephemeral range (32768-60999): a port the OS hands out for a bind to port 0
#: (every in-process test server, the stand-ins) may otherwise go to another test between
#: this choice and the gateway process's bind, and that test's gateway would answer for ours
PORTS = range(20000, 32000)


def free_port() -> int:
    """A loopback port nothing listens on, outside the ephemeral range."""
    chooser = random.SystemRandom()
    while True:
        port = chooser.choice(PORTS)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


@contextlib.asynccontextmanager
async def gateway_process(
    database_url: str,
    urls: Mapping[str, str],
    port: int,
    data_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    stdout: int | None = asyncio.subprocess.DEVNULL,
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``gateway serve`` in its own process, ready; killed on the way out whatever happened."""
    environment = {
        **os.environ,
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_DATA_DIR": str(data_dir),
        "GATEWAY_DATA_KEY": DATA_KEY,
        "GATEWAY_DIGEST_KEY": DIGEST_KEY,
        "GATEWAY_PORT": str(port),
        "GATEWAY_LEASE_SECONDS": "1.5",
        "GATEWAY_POLL_SECONDS": "0.2",
        "GATEWAY_LOG_LEVEL": "warning",
        "GATEWAY_REQUIRE_FILED_CASE": "false",
        "GATEWAY_AGENCY_HOUSEHOLD_MAX_IN_FLIGHT": "2",
        **{f"GATEWAY_AGENCY_{name.upper()}_URL": url for name, url in urls.items()},
        **(env or {}),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "serve", cwd=ROOT, env=environment,
        stdout=stdout, stderr=asyncio.subprocess.STDOUT if stdout != asyncio.subprocess.DEVNULL
        else asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as session:
            await until(lambda: ready(session, port), timeout=30)
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def ready(session: aiohttp.ClientSession, port: int) -> bool:
    try:
        async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


async def until(check: Callable[[], Awaitable[bool]], timeout: float) -> None:
    """Wait for a condition in another process (no event crosses the process boundary)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def all_results(port: int, token: str, batch_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    async with aiohttp.ClientSession() as session:
        while True:
            params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
            async with session.get(
                f"http://127.0.0.1:{port}/v1/batches/{batch_id}/results",
                params=params,
                headers={"Authorization": f"Bearer {token}"},
            ) as response:
                assert response.status == 200
                page = await response.json()
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return items


async def post_batch(port: int, token: str, body: dict[str, Any]) -> str:
    """Submit a batch to the replica on ``port``; its id (the 202 asserted)."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"http://127.0.0.1:{port}/v1/batches",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        assert response.status == 202, await response.text()
        return str((await response.json())["id"])


def batch_done(conn: Any, batch_id: str) -> Callable[[], Awaitable[bool]]:
    """For ``until``: the batch is done (read from the database, where every replica writes)."""

    async def done() -> bool:
        status = await conn.fetchval("SELECT status FROM batches WHERE id = $1", batch_id)
        return bool(status == "done")

    return done


async def answers_per_inquiry(conn: Any, batch_id: str) -> list[int]:
    """How often each of the batch's inquiries was recorded as answered (exactly once: all 1).
    The results table cannot hold two results of one inquiry (its key), so a second recording
    would show as a second ``inquiry.result`` record in the audit log; an inquiry with no
    result counts 0 whatever the log says."""
    rows = await conn.fetch(
        "SELECT CASE WHEN r.inquiry_id IS NULL THEN 0 ELSE ("
        "  SELECT count(*) FROM audit_log a WHERE a.batch_id = i.batch_id AND a.row = i.row"
        "  AND a.agency = i.agency AND a.action = 'inquiry.result') END AS n"
        " FROM inquiries i LEFT JOIN results r ON r.inquiry_id = i.id WHERE i.batch_id = $1",
        batch_id,
    )
    return [row["n"] for row in rows]
