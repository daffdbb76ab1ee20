"""``gateway control|controls|closure|history`` as an officer and a commander run them: real
processes against a running gateway on loopback, checked against what the API answers."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.http.keys import CONTROL_SENDER
from tests.conftest import CASE, Gateway
from tests.integration.accountability.helpers import GatewayFactory
from tests.integration.cli.conftest import TRACEBACK, base_url, run_cli
from tests.integration.controls.helpers import (
    control,
    file_case,
    first_of_june,
    found_asset,
)


async def test_a_seal_asked_approved_and_listed_from_the_terminal(
    gateway_factory: GatewayFactory, mocks: Any
) -> None:
    gateway: Gateway = await gateway_factory(clock=first_of_june())
    await file_case(gateway)
    _debtor, batch_id, plate = await found_asset(gateway, mocks, "vehicle")
    url, officer = base_url(gateway), await gateway.token("officer", "team-a")
    commander = await gateway.token("commander", None)

    asked = await run_cli(
        url, officer, "control", "ask", batch_id, "--row", "0", "--agency", "vehicle",
        "--asset", plate, "--action", "seize", "--reason", "扣押被执行人车辆", "--term", "365",
    )  # fmt: skip
    assert asked.code == 0, asked.err
    control_id = int(asked.out.split()[1].rstrip(":"))
    assert f"seize vehicle {plate}" in asked.out and "pending_approval" in asked.out

    approved = await run_cli(
        url, commander, "control", "approve", str(control_id), "--note", "同意"
    )
    assert approved.code == 0, approved.err
    await asyncio.wait_for(gateway.client.app[CONTROL_SENDER].wait_answered(control_id), 30)
    held = await control(gateway, control_id)

    listed = await run_cli(url, officer, "controls", "--status", "in_effect")
    assert listed.code == 0, listed.err
    line = next(row for row in listed.out.splitlines() if plate in row)
    assert held["receipt_no"] in line and held["expires_on"] in line  # 2027-05-31

    early = await run_cli(url, officer, "control", "renew", str(control_id))
    assert early.code == 1 and "within 30 days" in early.err and TRACEBACK not in early.err

    closed = await run_cli(url, officer, "closure", CASE, "--on", "2026-06-01")
    assert closed.code == 0, closed.err
    assert "next re-query 2026-12-01" in closed.out
    history = await run_cli(url, officer, "history", CASE)
    assert history.code == 0, history.err
    events = [kind for kind in ("control.requested", "control.approved", "control.in_effect",
                                "case.closed") if kind in history.out]  # fmt: skip
    assert len(events) == 4
