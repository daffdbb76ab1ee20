"""Helpers shared by the hostile-input tests (test_hostile_*.py)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any

import aiohttp

from tests.conftest import Gateway

NOT_ALLOWED = "contains characters that are not allowed"
UNREADABLE = "is not a readable .xlsx workbook"
DEEP = b"[" * 100_000 + b"]" * 100_000
SOME_UUID = "6f1c2b1e-8d1a-4c1e-9a53-1b2c3d4e5f60"
GatewayFactory = Callable[..., Any]


def b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def problem_of(body: dict[str, Any]) -> list[tuple[Any, str, str]]:
    return [(p["row"], p["field"], p["problem"]) for p in body["error"]["problems"]]


async def stored_batches(gateway: Gateway) -> int:
    async with gateway.pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM batches"))


async def post_json_text(
    gateway: Gateway, path: str, text: str | bytes, role: str = "officer"
) -> aiohttp.ClientResponse:
    """POST a body as given: json.dumps escapes a lone surrogate as \\ud800, as a client may."""
    team = "team-a" if role == "officer" else None
    headers = {**await gateway.headers(role, team), "Content-Type": "application/json"}
    data = text.encode() if isinstance(text, str) else text
    return await gateway.client.post(path, data=data, headers=headers)


async def raw_http(gateway: Gateway, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """One request written byte for byte (headers a client library would refuse to send)."""
    server = gateway.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body
