"""Fair scheduling: a small batch submitted behind a 10,000-subject batch finishes in about the
time it would take alone, not after the big one (each claim shares out among open batches)."""

from __future__ import annotations

from typing import Any

from gateway.http.keys import DISPATCHER
from mocks.population import sample_ids
from tests.integration.worker.conftest import (
    StartGateway,
    agencies,
    assert_equal_to_truth,
    body,
    done_count,
    until,
)

BIG = 10_000
SMALL = 20


async def test_a_small_batch_is_not_starved_by_a_huge_one(
    start_gateway: StartGateway, mocks: Any
) -> None:
    # One agency, no latency, a modest limit: the big batch alone would keep it busy a while.
    gateway = await start_gateway(
        agencies=agencies(mocks.urls, forestry={"max_in_flight": 4, "max_rps": 0})
    )
    people = sample_ids(BIG + SMALL, seed=4242)
    big = await gateway.submit(body(people[:BIG], agencies=["forestry"]))
    small = await gateway.submit(body(people[BIG:], agencies=["forestry"]))
    big_done_when_small_submitted = await done_count(gateway, big["id"])

    await gateway.wait_finished(small["id"], timeout=60)
    big_done = await done_count(gateway, big["id"])
    assert big_done < BIG // 10, big_done  # the small batch did not wait behind the big one

    async def big_goes_on() -> bool:  # ... nor did it stop the big one (whose inquiries are
        # stored after its 202, a chunk at a time: it may not have begun when the small ended)
        return await done_count(gateway, big["id"]) > max(big_done, big_done_when_small_submitted)

    await until(big_goes_on, timeout=60)
    assert_equal_to_truth(await gateway.all_results(small["id"]), mocks)
    gateway.client.app[DISPATCHER].cancel_batch(big["id"])  # no need to finish it
