"""Run the six stand-in agencies inside a test's event loop, on ephemeral loopback ports.

async with running_mocks(latency="zero") as mocks:
    urls = mocks.urls                       # {"household": "http://127.0.0.1:40123", ...}
    mocks.set_faults("vehicle", {"500": 1.0})
    mocks.stats("vehicle")["faults"]        # {"500": 3}
    mocks.truth("vehicle", id_number)       # == Found.to_json() of the connector, or None
    mocks.reset()                           # start-up configuration, empty statistics
    mocks.holds("realestate")               # every hold issued, as GET /admin/controls
    await mocks.restart("realestate")       # same URL; holds survive with a state_dir
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mocks.faults import Faults, Latency, Limits, latency_profile
from mocks.population import Kind, kind_of, truth
from mocks.server import LimitsSpec, MockServer, restart_mock, start_mocks, stop_mocks


class RunningMocks:
    """Handle on running mocks: their URLs, their controls, and the population's truth."""

    def __init__(self, servers: Mapping[str, MockServer]) -> None:
        self._servers = dict(servers)
        self.urls: dict[str, str] = {name: s.url for name, s in servers.items()}

    @property
    def servers(self) -> dict[str, MockServer]:
        """The running servers (a restarted agency's new one)."""
        return dict(self._servers)

    def set_faults(self, agency: str, faults: Mapping[str, float | bool]) -> None:
        """Replace the agency's faults, e.g. ``{"503": 0.2, "outage": False}``; {} = none."""
        self._servers[agency].control.faults = Faults.parse(faults)

    def set_limits(
        self, agency: str, max_in_flight: int | None = None, max_per_second: float | None = None
    ) -> None:
        self._servers[agency].control.limits = Limits(max_in_flight, max_per_second)

    def set_latency(self, agency: str, profile: str | Latency) -> None:
        """``"zero"``, ``"realistic"`` or an explicit ``Latency(request=(lo, hi), ready=...)``."""
        control = self._servers[agency].control
        control.latency = (
            profile if isinstance(profile, Latency) else latency_profile(agency, profile)
        )

    def stats(self, agency: str) -> dict[str, Any]:
        """Requests, by_officer, by_status, faults, breaches, ... (see ``Stats.to_json``)."""
        return self._servers[agency].control.stats.to_json()

    def in_flight(self, agency: str) -> int:
        return self._servers[agency].control.in_flight

    def truth(
        self,
        agency: str,
        id_number: str,
        kind: Kind | None = None,
        *,
        case_number: str | None = None,
        items: tuple[str, ...] = (),
    ) -> dict[str, Any] | None:
        """What the agency's connector returns as ``Found.to_json()``, or None (NotFound);
        ``items``: the household parts asked for (empty: all)."""
        resolved = kind or kind_of(id_number)
        if resolved is None:
            raise ValueError("not a valid resident ID or credit code")
        return truth(agency, id_number, resolved, case_number=case_number, items=items)

    def holds(self, agency: str) -> list[dict[str, Any]]:
        """Every hold the agency issued, as stored, with its place in line (as ``GET
        /admin/controls``): receipt_no, court, case_number, action, asset, term_days, amount,
        ordered_on, state (in_effect, queued or released), effective_on, expires_on,
        released_on, position."""
        return self._servers[agency].holds()

    async def restart(self, agency: str) -> None:
        """Stop the agency and start it again on the same URL with its start-up configuration:
        statistics and tickets are lost, holds kept when the mocks have a ``state_dir``."""
        self._servers[agency] = await restart_mock(self._servers[agency])
        self.urls[agency] = self._servers[agency].url

    def reset(self, agency: str | None = None) -> None:
        """Back to the start-up faults, limits and latency; statistics cleared; RNGs reseeded;
        every hold dropped (from the state file too)."""
        for name, server in self._servers.items():
            if agency is None or name == agency:
                server.reset()


@asynccontextmanager
async def running_mocks(
    latency: str = "zero",
    faults: Mapping[str, Mapping[str, Any]] | None = None,
    limits: LimitsSpec = None,
    seed: int = 0,
    state_dir: Path | None = None,
) -> AsyncGenerator[RunningMocks, None]:
    """All six mocks on 127.0.0.1 ephemeral ports. ``limits``: None (unlimited, the default
    for tests), ``"default"`` (as ``python -m mocks``) or ``{agency: Limits(...)}``.
    ``state_dir``: where the control desks keep their holds, so that they survive
    ``restart``; None (the default) keeps them in memory."""
    servers = await start_mocks(
        latency=latency, faults=faults, limits=limits, seed=seed, state_dir=state_dir
    )
    running = RunningMocks(servers)
    try:
        yield running
    finally:
        await stop_mocks(running.servers)
