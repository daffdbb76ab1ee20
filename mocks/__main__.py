"""``python -m mocks``: serve the six stand-in agencies until Ctrl-C or SIGTERM.

python -m mocks --latency realistic --fault household:500=0.1 --fault police:outage=1
python -m mocks --state-dir /var/lib/mocks    # holds survive a restart (or MOCKS_STATE_DIR)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mocks.agencies import AGENCIES, DEFAULT_PORTS
from mocks.faults import PROFILES, ConfigError
from mocks.server import start_mocks, stop_mocks

log = logging.getLogger("mocks")


def parse_faults(specs: list[str]) -> dict[str, dict[str, Any]]:
    """``household:500=0.1`` -> ``{"household": {"500": 0.1}}``; ``x:outage=1`` for outage."""
    faults: dict[str, dict[str, Any]] = defaultdict(dict)
    for spec in specs:
        agency, _, rest = spec.partition(":")
        kind, _, value = rest.partition("=")
        if agency not in AGENCIES or not kind or not value:
            raise ConfigError(f"bad --fault {spec!r}; expected AGENCY:KIND=FRACTION")
        try:
            number = float(value)
        except ValueError as exc:
            raise ConfigError(f"bad --fault {spec!r}; the fraction is not a number") from exc
        faults[agency][kind] = bool(number) if kind == "outage" else number
    return dict(faults)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mocks", description=__doc__)
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address only, unless --any-host"
    )
    parser.add_argument(
        "--any-host", action="store_true",
        help="allow --host beyond loopback: for a container the gateway reaches over its "
        "network (deploy/compose.yaml); never for tests or benchmarks",
    )  # fmt: skip
    parser.add_argument(
        "--base-port", type=int, default=DEFAULT_PORTS[AGENCIES[0]],
        help="port of the first agency; the others follow in the order of mocks.agencies",
    )  # fmt: skip
    parser.add_argument("--latency", choices=PROFILES, default="realistic")
    parser.add_argument("--fault", action="append", default=[], metavar="AGENCY:KIND=FRACTION")
    parser.add_argument("--seed", type=int, default=0, help="seed of fault and latency draws")
    parser.add_argument(
        "--state-dir", type=Path, default=os.environ.get("MOCKS_STATE_DIR") or None,
        help="where the control desks keep their holds across restarts (default: "
        "$MOCKS_STATE_DIR; unset: memory only)",
    )  # fmt: skip
    parser.add_argument(
        "--event-loop", choices=("uvloop", "asyncio"), default="uvloop",
        help="uvloop (less CPU per request: the benchmarks' stand-ins share the machine with "
        "what they measure) or Python's own",
    )  # fmt: skip
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--limits", dest="limits", action="store_true", default=True)
    group.add_argument("--no-limits", dest="limits", action="store_false")
    return parser.parse_args()


async def serve(args: argparse.Namespace) -> None:
    ports = {name: args.base_port + index for index, name in enumerate(AGENCIES)}
    servers = await start_mocks(
        host=args.host,
        ports=ports,
        latency=args.latency,
        faults=parse_faults(args.fault),
        limits="default" if args.limits else None,
        seed=args.seed,
        state_dir=args.state_dir,
        any_host=args.any_host,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        for name, server in servers.items():
            control = server.control
            log.info(
                "%-10s %s latency=%s limits=%s faults=%s", name, server.url, args.latency,
                control.limits.to_json(), control.faults.to_json(),
            )  # fmt: skip
        await stop.wait()
        log.info("stopping")
    finally:
        await stop_mocks(servers)


def _loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if name == "uvloop":
        try:
            import uvloop
        except ImportError:  # not built for this platform: asyncio's own loop serves
            return None
        return uvloop.new_event_loop
    return None


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = arguments()
    try:
        with asyncio.Runner(loop_factory=_loop_factory(args.event_loop)) as runner:
            runner.run(serve(args))
    except ConfigError as exc:
        raise SystemExit(f"python -m mocks: {exc}") from exc


if __name__ == "__main__":
    main()
