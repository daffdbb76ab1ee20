"""Vehicle look-ups go to the vehicle office in groups of up to 50 subjects: the dispatcher
groups a batch's claimed inquiries, one connector call and one HTTP request per group."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest

from connectors.base import Answer, Requester, Subject
from connectors.vehicle import VehicleConnector
from mocks.population import sample_ids
from mocks.vehicle import MAX_BATCH
from tests.integration.worker.conftest import StartGateway, assert_equal_to_truth, body

SUBJECTS = 120


async def test_vehicle_look_ups_go_in_groups_of_up_to_50(
    start_gateway: StartGateway, mocks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A spy on the real connector (real HTTP to the mock): the groups the dispatcher hands it.
    groups: list[tuple[str, int]] = []
    query = VehicleConnector.query

    async def recorded(
        self: VehicleConnector, subjects: Sequence[Subject], requester: Requester
    ) -> list[Answer]:
        groups.append((requester.batch_id, len(subjects)))
        return await query(self, subjects, requester)

    monkeypatch.setattr(VehicleConnector, "query", recorded)
    gateway = await start_gateway()
    created = await gateway.submit(body(sample_ids(SUBJECTS, seed=61), agencies=["vehicle"]))
    await gateway.wait_finished(created["id"], timeout=30)

    results = await gateway.all_results(created["id"])
    assert len(results) == SUBJECTS
    assert_equal_to_truth(results, mocks)
    assert all(r["attempts"] == 1 for r in results)

    # The dispatcher grouped them: no group over the office's 50 (its documented limit) ...
    assert MAX_BATCH == 50
    sizes = sorted((size for _, size in groups), reverse=True)
    assert max(sizes) <= MAX_BATCH
    assert sum(sizes) == SUBJECTS
    assert {batch for batch, _ in groups} == {created["id"]}
    # ... and full groups: one claim took the whole batch, so 50 + 50 + 20.
    assert sizes == [50, 50, 20]
    # The office saw one request per group, each accepted (it refuses more than 50 with 400).
    stats = mocks.stats("vehicle")
    assert stats["requests"] == len(groups) == math.ceil(SUBJECTS / MAX_BATCH)
    assert stats["by_status"] == {"200": len(groups)}
