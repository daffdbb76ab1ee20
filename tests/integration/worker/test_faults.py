"""Each fault kind at 30%: the batch completes and its results equal a fault-free run's.

The faults are set on the forestry bureau and the vehicle office, whose connectors make one
HTTP request per attempt, so 30% of requests is 30% of attempts. (On the township offices one
attempt is 13 or more requests: 30% of requests would fail ~99% of attempts.)
"""

from __future__ import annotations

from typing import Any

import pytest

from mocks.population import sample_ids
from tests.integration.worker.conftest import (
    StartGateway,
    agencies,
    assert_equal_to_truth,
    body,
)

FAULTS = ["500", "503", "429", "hang", "reset", "truncate", "malformed"]
FAULTY = ("forestry", "vehicle")
SUBJECTS = 40


@pytest.mark.parametrize("fault", FAULTS)
async def test_each_fault_kind_at_30_percent_changes_no_result(
    start_gateway: StartGateway, mocks: Any, fault: str
) -> None:
    for agency in FAULTY:
        mocks.set_faults(agency, {fault: 0.3})
    fast = {"timeout": 0.5, "max_rps": 0}  # zero-latency mocks: 0.5 s means "hung"
    gateway = await start_gateway(
        # Enough attempts that 30% faults all but never exhaust them (0.3^12 ~ 5e-7).
        max_attempts=12,
        agencies=agencies(mocks.urls, forestry=fast, vehicle=fast),
        # The budget's floor is raised so the test does not wait out its window; the budget
        # itself is tested in test_state_machines.py and test_outage.py.
        retry_budget_min_per_second=20,
    )
    subjects = sample_ids(SUBJECTS, seed=101)
    created = await gateway.submit(body(subjects, agencies=["household", *FAULTY]))
    await gateway.wait_finished(created["id"], timeout=90)

    results = await gateway.all_results(created["id"])
    assert len(results) == SUBJECTS * 3
    assert_equal_to_truth(results, mocks)
    # Faults did happen (the vehicle office sees one or two batch requests only) ...
    assert mocks.stats("forestry")["faults"].get(fault, 0) >= 5
    forestry = [r for r in results if r["agency"] == "forestry"]
    # ... and were retried: each forestry inquiry is one request when nothing fails
    assert mocks.stats("forestry")["requests"] > len(forestry)
