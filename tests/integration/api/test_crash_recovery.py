"""A dispatching process killed mid-batch loses nothing and doubles nothing: after a restart
every inquiry has exactly one result, equal to the agencies' ground truth."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from connectors.registry import AGENCIES
from gateway.accountability.auth import create_token
from gateway.store import db
from gateway.store.crypto import generate_key
from mocks.population import sample_ids
from tests.conftest import CASE, batch_body

#: both processes of a test (or the bench) share these, as replicas would
DATA_KEY, DIGEST_KEY = generate_key(), generate_key()
ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def gateway_process(
    database_url: str, urls: dict[str, str], port: int, data_dir: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``gateway serve`` in its own process; killed on the way out whatever happened."""
    env = {
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
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "serve", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as session:
            await until(lambda: _ready(session, port), timeout=30)
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _ready(session: aiohttp.ClientSession, port: int) -> bool:
    try:
        async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


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


async def until(check: Callable[[], Awaitable[bool]], timeout: float) -> None:
    """Wait for a condition in another process (no event crosses the process boundary)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_killed_dispatcher_work_is_resumed_exactly_once(
    database_url: str, mocks: Any, tmp_path: Path
) -> None:
    # Realistic household latency, two calls at a time (below): the kill lands mid-batch.
    mocks.set_latency("household", "realistic")
    conn = await db.connect(database_url)
    try:
        token = await create_token(conn, officer="crash-officer", role="officer", team="team-c")
        port = free_port()
        subjects = sample_ids(60, seed=21)
        total = len(subjects) * len(AGENCIES)
        async with gateway_process(database_url, mocks.urls, port, tmp_path) as first:
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    f"http://127.0.0.1:{port}/v1/batches",
                    json=batch_body(subjects, reason="恢复测试"),
                    headers={"Authorization": f"Bearer {token}"},
                ) as response,
            ):
                assert response.status == 202
                batch_id = (await response.json())["id"]

            async def some_recorded() -> bool:
                return await conn.fetchval("SELECT count(*) FROM results") >= 40

            await until(some_recorded, timeout=30)
            first.send_signal(signal.SIGKILL)
            await first.wait()
        recorded_before = await conn.fetchval("SELECT count(*) FROM results")
        assert recorded_before < total, "the batch finished before the kill; slow the mocks"

        async def finished() -> bool:
            status = await conn.fetchval("SELECT status FROM batches WHERE id = $1", batch_id)
            return status == "done"

        port = free_port()
        async with gateway_process(database_url, mocks.urls, port, tmp_path):
            await until(finished, timeout=60)
            results = await all_results(port, token, batch_id)

        per_inquiry = await conn.fetch(
            "SELECT count(r.inquiry_id) AS n FROM inquiries i "
            "LEFT JOIN results r ON r.inquiry_id = i.id GROUP BY i.id"
        )
        assert len(per_inquiry) == total
        assert all(row["n"] == 1 for row in per_inquiry)
        assert len(results) == total
        assert len({(r["subject"]["row"], r["agency"]) for r in results}) == total
        for result in results:
            expected = mocks.truth(
                result["agency"], result["subject"]["id_number"], case_number=CASE
            )
            assert result["data"] == expected, result["agency"]
        results_audited = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'inquiry.result'"
        )
        assert results_audited == total
    finally:
        await conn.close()
