"""``python -m bench.profile``: where the gateway's CPU goes under the throughput scenario's
load, sampled by py-spy from outside the process (no instrumentation in the gateway).

Starts the same stack as ``bench.throughput`` (PostgreSQL, the stand-ins and ``gateway serve``,
each a process), submits its batch, samples the gateway with ``py-spy record`` until the batch
is done, and prints the functions with the most samples, by own time and with what they call.
The raw samples are kept in ``bench/results/profile.txt`` (collapsed stacks, for flame graphs).
"""

from __future__ import annotations

import asyncio
import collections
import shutil
import sys
from pathlib import Path

from rich.console import Console

from bench.harness import stack, submit, wait_done
from bench.throughput import CASE, INQUIRIES, gateway_env
from connectors.registry import AGENCIES
from mocks.population import sample_ids

RESULTS = Path(__file__).resolve().parent / "results"
TOP = 25


async def main() -> int:
    console = Console()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    subjects = sample_ids(-(-INQUIRIES // len(AGENCIES)), seed=2024)
    RESULTS.mkdir(exist_ok=True)
    raw = RESULTS / "profile.txt"
    async with stack(latency="zero", gateway_env=gateway_env()) as running:
        body = {
            "case_number": CASE,
            "reason": "benchmark",
            "subjects": [{"name": n, "id_number": i} for n, i in subjects],
        }
        sampler = await asyncio.create_subprocess_exec(
            py_spy, "record", "--pid", str(running.gateway_pid), "--format", "raw",
            "--rate", "200", "--output", str(raw), "--nonblocking",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        batch_id = await submit(running, body)
        await wait_done(running.database_url, batch_id)
        sampler.send_signal(2)  # SIGINT: py-spy writes what it has and stops
        await sampler.wait()
    own, total = _tally(raw)
    samples = sum(own.values()) or 1
    console.print(f"{samples} samples of the gateway; top by own time (% of samples):")
    for name, count in own.most_common(TOP):
        console.print(
            f"  {100 * count / samples:5.1f}%  {100 * total[name] / samples:5.1f}%  {name}"
        )
    return 0


def _tally(raw: Path) -> tuple[collections.Counter[str], collections.Counter[str]]:
    """(own, inclusive) sample counts per function from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not stack_text:
            continue
        frames = [
            f.split(" (")[0] + " " + f.split(" (")[-1].rstrip(")").split(":")[0].rsplit("/", 1)[-1]
            for f in stack_text.split(";")
        ]
        count = int(count_text)
        own[frames[-1]] += count
        for name in set(frames):
            total[name] += count
    return own, total


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
