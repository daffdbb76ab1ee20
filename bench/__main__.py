"""``make bench``: run every scenario in ``bench/`` and print one table.

    python -m bench                  # all scenarios
    python -m bench throughput       # only the named ones

Timings are measured here, never asserted in tests. Everything runs on loopback.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from gateway.cli.main import collect_less, event_loop_factory
from gateway.core.settings import Settings

#: scenario name -> module in bench/ exposing ``async def run(console) -> list[row]``
SCENARIOS = {
    "latency": "bench.latency",
    "intake": "bench.intake",
    "throughput": "bench.throughput",
    "makespan": "bench.makespan",
    "chaos": "bench.chaos",
    "growth": "bench.growth",
    "controls": "bench.controls",
}


async def main(names: list[str]) -> int:
    console = Console()
    rows: list[dict[str, Any]] = []
    for name in names:
        if importlib.util.find_spec(SCENARIOS[name]) is None:
            console.print(f"[yellow]scenario {name}: not available[/yellow]")
            continue
        module = importlib.import_module(SCENARIOS[name])
        console.rule(name)
        rows += await module.run(console)
    table = Table(title="benchmarks")
    for column in ("scenario", "metric", "value"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for row in rows:
        table.add_row(row["scenario"], row["metric"], row["value"])
    console.print(table)
    return 0


if __name__ == "__main__":
    chosen = sys.argv[1:] or list(SCENARIOS)
    unknown = [n for n in chosen if n not in SCENARIOS]
    if unknown:
        sys.exit(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    # The same event loop and garbage collection as the gateway's (GATEWAY_EVENT_LOOP and
    # GATEWAY_GC_THRESHOLD, which the gateway processes inherit): the bare client of the
    # throughput scenario runs in this process, and the ratio compares code, not set-up.
    settings = Settings.from_env()
    loop_factory = event_loop_factory(settings.event_loop)
    collect_less(settings.gc_threshold)
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        sys.exit(runner.run(main(chosen)))
