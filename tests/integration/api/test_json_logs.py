"""Every line the running service writes is one JSON object: malformed requests (a NUL in a
header, a body cut short, a TLS hello, a 20 kB request line) and an unhandled exception are
structured lines with the exception's type and message, never a multi-line traceback, and
never personal data."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp

from gateway.accountability.auth import create_token
from gateway.store import db
from mocks.population import sample_ids
from tests.conftest import batch_body
from tests.integration.processes import free_port, gateway_process, until

TLS_CLIENT_HELLO = bytes.fromhex("16030100a5010000a10303") + bytes(32) + b"\x00\x02\x13\x01\x01\x00"


async def _raw(port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        writer.write_eof()
        return await asyncio.wait_for(reader.read(), timeout=10)
    except (ConnectionError, TimeoutError):
        return b""
    finally:
        writer.close()


#: a name and an identifier a malformed request carries: neither may reach the log
NAME, ID = "王小明", "220302196504120012"
MALFORMED = {
    "nul_in_header": (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Debtor: "
        + NAME.encode()
        + b"\x00"
        + ID.encode()
        + b"\r\n\r\n"
    ),
    "body_cut_short": (
        b"POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 500\r\n\r\n{"case_number": "220302196504120012"'
    ),
    "tls_hello": TLS_CLIENT_HELLO,
    "long_request_line": b"GET /" + ID.encode() * 1200 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad_header_line": b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
}


async def test_a_malformed_request_and_a_batch_log_only_json_lines(
    database_url: str, mocks: Any, tmp_path: Path
) -> None:
    port = free_port()
    conn = await db.connect(database_url)
    try:
        token = await create_token(conn, officer="logs-officer", role="officer", team="team-a")
    finally:
        await conn.close()
    env = {"GATEWAY_LOG_LEVEL": "info", "GATEWAY_LOG_FORMAT": "json"}
    async with gateway_process(
        database_url, mocks.urls, port, tmp_path, env=env, stdout=asyncio.subprocess.PIPE
    ) as process:
        for payload in MALFORMED.values():
            await _raw(port, payload)
        people = sample_ids(2, seed=88)
        async with aiohttp.ClientSession() as session:
            headers = {"Authorization": f"Bearer {token}"}
            async with session.post(
                f"http://127.0.0.1:{port}/v1/batches", json=batch_body(people), headers=headers
            ) as response:
                assert response.status == 202, await response.text()
                batch_id = (await response.json())["id"]

            async def finished() -> bool:
                async with session.get(
                    f"http://127.0.0.1:{port}/v1/batches/{batch_id}", headers=headers
                ) as answer:
                    return (await answer.json())["status"] == "done"

            await until(finished, timeout=30)
        process.terminate()
        assert process.stdout is not None
        output = (await process.stdout.read()).decode("utf-8")
        await process.wait()
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) > 10
    records = []
    for line in lines:
        record = json.loads(line)  # fails on any line that is not one JSON object
        assert isinstance(record, dict), line
        records.append(record)
    errors = [r for r in records if "exception" in r]
    assert errors, "the malformed requests were logged"
    for record in errors:
        assert set(record["exception"]) == {"type", "message", "frames"}
        assert record["exception"]["type"]
    assert any(r.get("event") == "http_request" and r.get("status") == 202 for r in records)
    for name, id_number in people:
        assert id_number not in output and name not in output
    assert ID not in output and NAME not in output
