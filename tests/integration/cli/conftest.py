"""The officers' commands run as real processes against a running gateway on loopback, with
GATEWAY_URL and GATEWAY_TOKEN in their environment, as an officer's terminal has them."""

from __future__ import annotations

import asyncio
import csv
import os
import re
import socket
import sys
import uuid
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from openpyxl import Workbook, load_workbook

from tests.conftest import CASE, ROOT, Gateway
from tests.integration.accountability.helpers import GatewayFactory, file_case

TRACEBACK = "Traceback (most recent call last)"


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


@asynccontextmanager
async def stand_in(
    method: str, path: str, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> AsyncIterator[str]:
    """A server on loopback in the gateway's place that answers ``path`` its own way (a proxy,
    a broken connection); its base URL."""
    app = web.Application()
    app.router.add_route(method, path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def run_cli(url: str, token: str | None, *argv: str, cwd: Path = ROOT) -> Run:
    """``python -m gateway ARGV`` in its own process; no GATEWAY_* but the URL and token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_URL"] = url
    if token is not None:
        env["GATEWAY_TOKEN"] = token
    env["COLUMNS"] = "200"  # rich's tables unwrapped, as on a wide terminal
    env["PYTHONPATH"] = str(ROOT)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", *argv, cwd=cwd, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


def base_url(gateway: Gateway) -> str:
    return str(gateway.client.make_url("")).rstrip("/")


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then let go)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_workbook(path: Path, rows: Sequence[Sequence[Any]], header: Sequence[str]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def modes(directory: Path) -> list[int]:
    return [p.stat().st_mode for p in directory.iterdir()]


def xlsx_cells(path: Path) -> set[str]:
    """Every value on every sheet, as text."""
    workbook = load_workbook(path, read_only=True)
    try:
        return {
            str(value)
            for sheet in workbook.worksheets
            for row in sheet.iter_rows(values_only=True)
            for value in row
            if value is not None
        }
    finally:
        workbook.close()


def csv_cells(path: Path) -> set[str]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        return {cell for row in csv.reader(file) for cell in row}


def write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def text_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def zip_is_sound(path: Path) -> bool:
    with zipfile.ZipFile(path) as archive:
        return archive.testzip() is None


def batch_id_in(out: str) -> uuid.UUID:
    """The batch a submit reported (``batch <uuid>: ...``)."""
    match = re.search(r"^batch ([0-9a-f-]{36}):", out, re.MULTILINE)
    assert match, out
    return uuid.UUID(match[1])


def table_rows(out: str) -> dict[str, list[int]]:
    """A progress table's rows as printed: agency (or "all") -> its numbers, in order."""
    rows: dict[str, list[int]] = {}
    for line in out.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line) if c.strip()]
        if len(cells) >= 2 and all(c.isdigit() for c in cells[1:]):
            rows[cells[0]] = [int(c) for c in cells[1:]]
    return rows


@pytest.fixture
async def officer_gateway(gateway_factory: GatewayFactory) -> Gateway:
    """A gateway taking only filed cases (the production rule), with CASE filed for team-a."""
    gateway = await gateway_factory(require_filed_case=True)
    await file_case(gateway, CASE, "team-a")
    return gateway


__all__ = ["CASE", "TRACEBACK"]
