"""Start and stop the six stand-in agencies (used by ``python -m mocks`` and the tests)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aiohttp import web

from mocks import control_routes
from mocks.agencies import AGENCIES
from mocks.app import build_app
from mocks.controls import state_file
from mocks.faults import (
    DEFAULT_LIMITS,
    UNLIMITED,
    AgencyControl,
    ConfigError,
    Faults,
    Limits,
    latency_profile,
)

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
#: seconds shutdown waits for running handlers (hung ones are woken by on_shutdown anyway)
SHUTDOWN_TIMEOUT = 2.0
LimitsSpec = Literal["default"] | Mapping[str, Limits] | None


@dataclass(slots=True)
class MockServer:
    agency: str
    control: AgencyControl
    runner: web.AppRunner
    url: str

    def reset(self) -> None:
        """Back to the start-up configuration: empty statistics and memory, no holds."""
        self.control.reset()
        control_routes.forget(self.runner.app)

    def holds(self) -> list[dict[str, Any]]:
        """Every hold the agency issued (as ``GET /admin/controls``); [] without a desk."""
        return control_routes.holds(self.runner.app)


def limits_for(agency: str, limits: LimitsSpec) -> Limits:
    """None = unlimited; "default" = DEFAULT_LIMITS; a mapping names agencies to limit."""
    if limits is None:
        return UNLIMITED
    if isinstance(limits, str):
        if limits != "default":  # a caller outside the type checker's sight
            raise ConfigError("limits must be None, 'default' or a mapping of agency to Limits")
        return DEFAULT_LIMITS[agency]
    return limits.get(agency, UNLIMITED)


async def start_mock(
    control: AgencyControl, host: str = "127.0.0.1", port: int = 0, *, any_host: bool = False
) -> MockServer:
    """``any_host``: allow an address other than loopback (a container's, where the gateway
    is in another one); tests and benchmarks never set it."""
    if host not in LOOPBACK and not any_host:
        raise ConfigError(
            "mocks serve loopback only (127.0.0.1, ::1 or localhost); "
            "in a container, pass --any-host as well"
        )
    # handler_cancellation: when a client gives up (e.g. on a hang), stop its handler too.
    runner = web.AppRunner(
        build_app(control),
        access_log=None,  # access lines would carry paths and officers; nothing to gain here
        handler_cancellation=True,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_host, bound_port = runner.addresses[0][:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return MockServer(control.agency, control, runner, f"http://{shown}:{bound_port}")


async def restart_mock(server: MockServer) -> MockServer:
    """Stop ``server`` and start its agency again on the same address, as after a crash or a
    redeploy: statistics, memory and tickets are gone; holds come back from the state file."""
    host, port = server.runner.addresses[0][:2]
    await server.runner.cleanup()
    return await start_mock(server.control.restarted(), host, port)


async def start_mocks(
    *,
    host: str = "127.0.0.1",
    ports: Mapping[str, int] | None = None,
    latency: str = "zero",
    faults: Mapping[str, Mapping[str, Any]] | None = None,
    limits: LimitsSpec = None,
    seed: int = 0,
    state_dir: Path | None = None,
    any_host: bool = False,
) -> dict[str, MockServer]:
    """All six agencies; ``ports`` defaults to 0 (ephemeral) for each. ``state_dir``: where
    the control desks keep their holds across restarts (``<agency>-controls.json``, created
    when missing); None keeps them in memory only."""
    for name in faults or {}:
        if name not in AGENCIES:
            raise ConfigError(f"unknown agency {name!r}")
    servers: dict[str, MockServer] = {}
    try:
        for agency in AGENCIES:
            control = AgencyControl(
                agency,
                faults=Faults.parse((faults or {}).get(agency)),
                limits=limits_for(agency, limits),
                latency=latency_profile(agency, latency),
                seed=seed,
                control_state=state_file(state_dir, agency),
            )
            port = (ports or {}).get(agency, 0)
            servers[agency] = await start_mock(control, host, port, any_host=any_host)
    except BaseException:
        await stop_mocks(servers)
        raise
    return servers


async def stop_mocks(servers: Mapping[str, MockServer]) -> None:
    for server in servers.values():
        await server.runner.cleanup()
