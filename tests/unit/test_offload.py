"""The intake's helper process ends with the gateway, even a gateway killed with SIGKILL that
could not stop it: it used to live on for ever, waiting for work on a pipe it held both ends
of (a dozen of them, 76 MB each, after one test run)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: a gateway in miniature: starts its helper, says the helper's pid, then waits to be killed
GATEWAY = """
import asyncio, os, sys
from gateway.core.offload import Offload

async def main():
    helper = Offload(1)
    print(await helper.submit(os.getpid), flush=True)
    sys.stdin.read()

asyncio.run(main())
"""


def test_the_helper_process_exits_when_its_gateway_is_killed() -> None:
    gateway = subprocess.Popen(
        [sys.executable, "-c", GATEWAY],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert gateway.stdout is not None
        helper = int(gateway.stdout.readline())
        assert helper != gateway.pid
        ended = os.pidfd_open(helper)  # readable once the helper has exited
    finally:
        gateway.kill()
        gateway.wait()
    try:
        readable, _, _ = select.select([ended], [], [], 60)
        if not readable:
            os.kill(helper, signal.SIGKILL)
        assert readable == [ended], "the helper process outlived its gateway"
    finally:
        os.close(ended)
