"""The retention purge leaves alone what a hold or a 终本 schedule still needs: a batch whose
result carries a hold in force, and the batches of a case on its re-query schedule. Once the
hold is released, or the case reopened, they go like any other."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from gateway.accountability import retention
from gateway.http.keys import CONTROL_SENDER
from tests.conftest import CASE, Gateway
from tests.integration.accountability.helpers import GatewayFactory, auth
from tests.integration.controls.helpers import (
    act,
    ask,
    debtor_with_assets,
    file_case,
    first_of_june,
    found_asset,
    found_batch,
)

DAYS = 180


async def purged(gateway: Gateway, batch_id: str) -> list[str]:
    """Make the batch older than the retention period, purge; the batches purged."""
    await gateway.pool.execute(
        "UPDATE batches SET finished_at = now() - make_interval(days => $2) WHERE id = $1",
        uuid.UUID(batch_id), DAYS + 5,
    )  # fmt: skip
    settings = gateway.settings.replace(retention_days=DAYS)
    report = await retention.purge(gateway.pool, settings, datetime.now(UTC), "test")
    return [str(b.id) for b in report.batches]


async def test_a_batch_with_a_hold_in_force_is_kept_until_release(
    gateway_factory: GatewayFactory, mocks: Any
) -> None:
    gateway = await gateway_factory(clock=first_of_june(), retention_days=100 * DAYS)
    await file_case(gateway)
    _debtor, batch_id, asset = await found_asset(gateway, mocks, "forestry")
    asked = await (await ask(gateway, batch_id, "forestry", asset, "seal")).json()
    note = "同意查封张三名下林权"  # free text naming a person
    await act(gateway, asked["id"], "approve", note=note)
    sender = gateway.client.app[CONTROL_SENDER]
    await asyncio.wait_for(sender.wait_answered(asked["id"]), 30)
    assert await purged(gateway, batch_id) == []
    assert await decision_note(gateway, asked["id"]) == note  # kept while the hold is
    await act(gateway, asked["id"], "release", role="officer", team="team-a")
    await asyncio.wait_for(sender.wait_answered(asked["id"], 2), 30)
    assert await purged(gateway, batch_id) == [batch_id]
    assert await decision_note(gateway, asked["id"]) is None  # gone with the batch's data


async def decision_note(gateway: Gateway, control_id: int) -> str | None:
    note: str | None = await gateway.pool.fetchval(
        "SELECT decision_note FROM controls WHERE id = $1", control_id
    )
    return note


async def test_a_closed_cases_batches_are_kept_until_it_is_reopened(
    gateway_factory: GatewayFactory, mocks: Any
) -> None:
    gateway = await gateway_factory(clock=first_of_june(), retention_days=100 * DAYS)
    await file_case(gateway)
    batch_id = await found_batch(gateway, debtor_with_assets(mocks), ("household",))
    headers = await auth(gateway, "officer", "team-a")
    closed = await gateway.client.post(f"/v1/cases/{CASE}/closure", headers=headers)
    assert closed.status == 200, await closed.text()
    assert await purged(gateway, batch_id) == []
    reopened = await gateway.client.post(f"/v1/cases/{CASE}/reopen", headers=headers)
    assert reopened.status == 200, await reopened.text()
    assert await purged(gateway, batch_id) == [batch_id]
