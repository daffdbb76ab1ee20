"""Group commit that groups only under load: an answer with nothing else on its way is
committed at once, whatever the group window; answers arriving together share a commit.

A real ``ResultWriter`` on the real database, under a window of an hour: a writer that waited
for it would never commit within the test. Events, not clocks, say when it committed."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.core.metrics import Metrics
from gateway.http.keys import CIPHER
from gateway.store import inquiries
from gateway.worker.writer import Outcome, ResultWriter
from mocks.population import sample_ids
from tests.integration.worker.conftest import StartGateway, agencies, body

AGENCY = "forestry"
HOUR = 3600.0


async def test_an_answer_alone_is_committed_at_once_and_a_busy_writer_groups(
    start_gateway: StartGateway, mocks: Any
) -> None:
    api = await start_gateway(dispatch=False, agencies=agencies(mocks.urls))
    await api.submit(body(sample_ids(3, seed=93, organisations=0), [AGENCY]))
    async with api.pool.acquire() as conn:
        ids = [row["id"] for row in await inquiries.claim(conn, AGENCY, 10, "w", 60.0)]
    assert len(ids) == 3

    expected = {"count": 1}  # outcomes this worker still awaits (its leased inquiries)
    groups: list[list[int]] = []
    committed = asyncio.Event()

    def settled(written: list[int]) -> None:
        groups.append(sorted(written))
        committed.set()

    writer = ResultWriter(
        api.pool,
        "w",
        Metrics(),
        api.client.app[CIPHER],
        flush_size=2,
        flush_seconds=HOUR,
        on_settled=settled,
        expected=lambda: expected["count"],
    )
    task = asyncio.create_task(writer.run())
    try:
        # Nothing else on its way: committed at once, not after the hour.
        writer.add(Outcome(ids[0], AGENCY, "not_found", None, None, 1))
        await asyncio.wait_for(committed.wait(), 30)
        assert groups == [[ids[0]]]

        # Two answers arriving together go in one commit.
        committed.clear()
        expected["count"] = 2
        writer.add(Outcome(ids[1], AGENCY, "not_found", None, None, 1))
        writer.add(Outcome(ids[2], AGENCY, "not_found", None, None, 1))  # the group is full
        await asyncio.wait_for(committed.wait(), 30)
        assert groups == [[ids[0]], [ids[1], ids[2]]]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    async with api.pool.acquire() as conn:
        written = await conn.fetchval(
            "SELECT count(*) FROM results WHERE inquiry_id = ANY($1)", ids
        )
    assert written == 3


async def test_answers_that_gather_during_a_commit_wait_for_their_group_under_load(
    start_gateway: StartGateway, mocks: Any
) -> None:
    """Under load (more answers on their way) what arrived while a group was being committed
    waits for the group window too, instead of following in a commit of its own: groups of a
    few answers each made a transaction per few answers."""
    api = await start_gateway(dispatch=False, agencies=agencies(mocks.urls))
    await api.submit(body(sample_ids(6, seed=94, organisations=0), [AGENCY]))
    async with api.pool.acquire() as conn:
        ids = sorted(row["id"] for row in await inquiries.claim(conn, AGENCY, 10, "w", 60.0))
    assert len(ids) == 6

    groups: list[list[int]] = []
    committed = asyncio.Event()
    writer: ResultWriter

    def settled(written: list[int]) -> None:
        groups.append(sorted(written))
        if len(groups) == 1:
            # Arrives as the first group's commit ends, before the writer looks again.
            writer.add(Outcome(ids[3], AGENCY, "not_found", None, None, 1))
        committed.set()

    writer = ResultWriter(
        api.pool,
        "w",
        Metrics(),
        api.client.app[CIPHER],
        flush_size=3,
        flush_seconds=HOUR,
        on_settled=settled,
        expected=lambda: 10,  # always more on their way: under load
    )
    task = asyncio.create_task(writer.run())
    try:
        for inquiry_id in ids[:3]:
            writer.add(Outcome(inquiry_id, AGENCY, "not_found", None, None, 1))
        await asyncio.wait_for(committed.wait(), 30)
        committed.clear()
        async with api.pool.acquire() as conn:  # a round trip: the writer had its turns
            await conn.fetchval("SELECT 1")
        assert groups == [ids[:3]]
        assert writer.pending == 1  # the late answer waits for its group
        for inquiry_id in ids[4:]:
            writer.add(Outcome(inquiry_id, AGENCY, "not_found", None, None, 1))
        await asyncio.wait_for(committed.wait(), 30)
        assert groups == [ids[:3], ids[3:]]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_last_answers_on_their_way_are_committed_as_soon_as_they_are_all_in(
    start_gateway: StartGateway, mocks: Any
) -> None:
    """A group that holds every answer this worker still expects is complete: committed at
    once, not after the window (a batch's last answers, an officer's one person)."""
    api = await start_gateway(dispatch=False, agencies=agencies(mocks.urls))
    await api.submit(body(sample_ids(3, seed=95, organisations=0), [AGENCY]))
    async with api.pool.acquire() as conn:
        ids = sorted(row["id"] for row in await inquiries.claim(conn, AGENCY, 10, "w", 60.0))
    assert len(ids) == 3
    leased = set(ids)  # what this worker still awaits, as the dispatcher counts it
    groups: list[list[int]] = []
    committed = asyncio.Event()

    def settled(written: list[int]) -> None:
        leased.difference_update(written)
        groups.append(sorted(written))
        committed.set()

    writer = ResultWriter(
        api.pool,
        "w",
        Metrics(),
        api.client.app[CIPHER],
        flush_size=100,
        flush_seconds=HOUR,
        on_settled=settled,
        expected=lambda: len(leased),
    )
    task = asyncio.create_task(writer.run())
    try:
        for inquiry_id in ids:
            writer.add(Outcome(inquiry_id, AGENCY, "not_found", None, None, 1))
            async with api.pool.acquire() as conn:  # the writer has its turns in between
                await conn.fetchval("SELECT 1")
        await asyncio.wait_for(committed.wait(), 30)  # not the hour's window
        assert groups == [ids]  # one group: complete with the last one
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
