"""How `gateway serve` takes signals (gateway/cli/runner.wait_for_stop): the first SIGTERM
starts the drain; a second one, while it drains, stops the process at once (an operator who
will not wait for the drain's deadline is not ignored)."""

from __future__ import annotations

import asyncio
import signal
import sys

from tests.integration.processes import ROOT

#: waits for a signal as `serve` does, then "drains" for longer than any test runs
DRAINING_FOR_EVER = """
import asyncio
from gateway.cli.runner import wait_for_stop

async def main():
    stopped = asyncio.ensure_future(wait_for_stop())
    await asyncio.sleep(0)  # one turn: its handlers are installed
    print("waiting", flush=True)
    await stopped
    print("draining", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_a_second_signal_stops_a_draining_process() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", DRAINING_FOR_EVER, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        assert await asyncio.wait_for(process.stdout.readline(), 30) == b"waiting\n"
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.stdout.readline(), 30) == b"draining\n"
        assert process.returncode is None  # the first signal only began the drain
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == -signal.SIGTERM
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
