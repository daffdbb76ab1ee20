"""Shared by the accountability tests: a gateway with every rule switched on explicitly (so
these tests do not depend on what tests/conftest.py sets for the older suites), a clock the
test moves, filed cases, and readers for metrics and row counts."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import ClientResponse

from tests.conftest import CASE, Gateway, batch_body

SHANGHAI = ZoneInfo("Asia/Shanghai")
OTHER_CASE = "（2023）吉0302执456号"

GatewayFactory = Callable[..., Awaitable[Gateway]]


class Clock:
    """What the rules and alerts take for "now"; a test sets it, nothing sleeps."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def local(self, day_offset: int = 0, hour: int = 10, minute: int = 0) -> None:
        """Move to a local time, ``day_offset`` days from the clock's current local day."""
        day = self.at.astimezone(SHANGHAI).date() + timedelta(days=day_offset)
        self.at = datetime.combine(day, time(hour, minute), SHANGHAI)


def recent_wednesday() -> datetime:
    """10:00 Shanghai time on the latest Wednesday: working hours, and close to the database's
    own clock (batches are stamped by it), so look-back windows see the test's batches."""
    today = datetime.now(SHANGHAI).date()
    wednesday = today - timedelta(days=(today.weekday() - 2) % 7)
    return datetime.combine(wednesday, time(10, 0), SHANGHAI)


#: every rule and alert on, with the production defaults
RULES_ON: dict[str, Any] = {
    "require_filed_case": True,
    "quota_subjects_per_day": 5000,
    "requery_days": 30,
    "approval_threshold": 500,
    "timezone": "Asia/Shanghai",
    "working_hours": "08:00-18:00",
    "working_days": "mon-fri",
    "volume_alert_factor": 3.0,
    "volume_alert_floor": 200,
    "cross_team_alert_teams": 3,
    "cross_team_alert_days": 30,
}


async def start(
    gateway_factory: GatewayFactory, clock: Clock | None = None, **overrides: Any
) -> Gateway:
    settings = {**RULES_ON, "clock": clock or Clock(recent_wednesday()), **overrides}
    return await gateway_factory(**settings)


async def file_case(gateway: Gateway, case: str = CASE, team: str = "team-a") -> None:
    """Register a filed case through the admin API (the team is created first if new)."""
    await gateway.token("officer", team)  # creates the team
    response = await gateway.client.post(
        "/v1/cases",
        json={"case_number": case, "team": team},
        headers=await auth(gateway, "admin"),
    )
    assert response.status in (200, 201), await response.text()


async def auth(gateway: Gateway, role: str, team: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {await gateway.token(role, team)}"}


async def post_batch(
    gateway: Gateway, body: dict[str, Any], team: str = "team-a", **headers: str
) -> ClientResponse:
    return await gateway.client.post(
        "/v1/batches", json=body, headers={**await auth(gateway, "officer", team), **headers}
    )


async def stored(gateway: Gateway) -> tuple[int, int, int]:
    """(batches, subjects, inquiries) in the database."""
    async with gateway.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM batches) AS b, (SELECT count(*) FROM subjects) AS s,"
            " (SELECT count(*) FROM inquiries) AS i"
        )
    return row["b"], row["s"], row["i"]


async def metric(gateway: Gateway, name: str, **labels: str) -> float:
    text = await (await gateway.client.get("/metrics")).text()
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = rf"^{re.escape(name)}(?:\{{{re.escape(wanted)}\}})? (\S+)$" if wanted else None
    for line in text.splitlines():
        match = re.match(pattern or rf"^{re.escape(name)} (\S+)$", line)
        if match:
            return float(match[1])
    raise AssertionError(f"{name}{{{wanted}}} not exported")


__all__ = ["CASE", "OTHER_CASE", "batch_body"]
