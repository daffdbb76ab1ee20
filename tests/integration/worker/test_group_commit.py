"""Group commit that groups only under load: an answer with nothing else on its way is
committed at once, whatever the group window; answers arriving together share a commit. And
closing the writer while the database is away ends in time, without losing the answer.

A real ``ResultWriter`` on the real database, under a window of an hour: a writer that waited
for it would never commit within the test. Events, not clocks, say when it committed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import structlog

from gateway.core.metrics import Metrics
from gateway.http.keys import CIPHER
from gateway.store import db, inquiries
from gateway.worker.writer import Outcome, ResultWriter
from mocks.population import sample_ids
from tests.conftest import Gateway
from tests.integration.worker.conftest import StartGateway, agencies, body

AGENCY = "forestry"
HOUR = 3600.0


class Commits:
    """The groups the writer committed, in order, and an event for each."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.committed = asyncio.Event()

    def settled(self, written: list[int]) -> None:
        self.groups.append(sorted(written))
        self.committed.set()

    async def next(self) -> None:
        """Until the next commit (30 s at most: far below the hour's window)."""
        await asyncio.wait_for(self.committed.wait(), 30)
        self.committed.clear()


async def leased(
    start_gateway: StartGateway, mocks: Any, count: int, seed: int
) -> tuple[Gateway, list[int]]:
    """A gateway that asks nobody, and the ids of ``count`` inquiries leased to "w"."""
    api = await start_gateway(dispatch=False, agencies=agencies(mocks.urls))
    await api.submit(body(sample_ids(count, seed=seed, organisations=0), [AGENCY]))
    async with api.pool.acquire() as conn:
        ids = sorted(row["id"] for row in await inquiries.claim(conn, AGENCY, 10, "w", 60.0))
    assert len(ids) == count
    return api, ids


@contextlib.asynccontextmanager
async def writing(
    api: Gateway,
    *,
    flush_size: int,
    settled: Callable[[list[int]], None],
    expected: Callable[[], int],
) -> AsyncIterator[ResultWriter]:
    """A running writer for "w" under an hour's group window."""
    writer = ResultWriter(
        api.pool,
        "w",
        Metrics(),
        api.client.app[CIPHER],
        flush_size=flush_size,
        flush_seconds=HOUR,
        on_settled=settled,
        expected=expected,
    )
    task = asyncio.create_task(writer.run())
    try:
        yield writer
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def answer(inquiry_id: int) -> Outcome:
    return Outcome(inquiry_id, AGENCY, "not_found", None, None, 1)


async def round_trip(api: Gateway) -> None:
    """A query of our own: the writer has its turns meanwhile."""
    async with api.pool.acquire() as conn:
        await conn.fetchval("SELECT 1")


async def test_an_answer_alone_is_committed_at_once_and_a_busy_writer_groups(
    start_gateway: StartGateway, mocks: Any
) -> None:
    api, ids = await leased(start_gateway, mocks, 3, seed=93)
    expected = {"count": 1}  # outcomes this worker still awaits (its leased inquiries)
    commits = Commits()
    async with writing(
        api, flush_size=2, settled=commits.settled, expected=lambda: expected["count"]
    ) as writer:
        # Nothing else on its way: committed at once, not after the hour.
        writer.add(answer(ids[0]))
        await commits.next()
        assert commits.groups == [[ids[0]]]

        # Two answers arriving together go in one commit.
        expected["count"] = 2
        writer.add(answer(ids[1]))
        writer.add(answer(ids[2]))  # the group is full
        await commits.next()
        assert commits.groups == [[ids[0]], [ids[1], ids[2]]]
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
    api, ids = await leased(start_gateway, mocks, 6, seed=94)
    commits = Commits()
    writer: ResultWriter

    def settled(written: list[int]) -> None:
        if not commits.groups:
            # Arrives as the first group's commit ends, before the writer looks again.
            writer.add(answer(ids[3]))
        commits.settled(written)

    # always more on their way: under load
    async with writing(api, flush_size=3, settled=settled, expected=lambda: 10) as writer:
        for inquiry_id in ids[:3]:
            writer.add(answer(inquiry_id))
        await commits.next()
        await round_trip(api)
        assert commits.groups == [ids[:3]]
        assert writer.pending == 1  # the late answer waits for its group
        for inquiry_id in ids[4:]:
            writer.add(answer(inquiry_id))
        await commits.next()
        assert commits.groups == [ids[:3], ids[3:]]


async def test_the_last_answers_on_their_way_are_committed_as_soon_as_they_are_all_in(
    start_gateway: StartGateway, mocks: Any
) -> None:
    """A group that holds every answer this worker still expects is complete: committed at
    once, not after the window (a batch's last answers, an officer's one person)."""
    api, ids = await leased(start_gateway, mocks, 3, seed=95)
    awaited = set(ids)  # what this worker still awaits, as the dispatcher counts it
    commits = Commits()

    def settled(written: list[int]) -> None:
        awaited.difference_update(written)
        commits.settled(written)

    async with writing(
        api, flush_size=100, settled=settled, expected=lambda: len(awaited)
    ) as writer:
        for inquiry_id in ids:
            writer.add(answer(inquiry_id))
            await round_trip(api)
        await commits.next()  # not the hour's window
        assert commits.groups == [ids]  # one group: complete with the last one


async def test_closing_while_the_database_is_away_gives_up_in_time_and_writes_nothing(
    start_gateway: StartGateway, mocks: Any
) -> None:
    """A shutdown that waited for the database would wait for ever. The answer left unwritten
    keeps its lease, so it is asked again elsewhere once the lease runs out: never lost."""
    api, ids = await leased(start_gateway, mocks, 1, seed=96)
    away = await db.create_pool(api.database_url, min_size=1, max_size=1)
    await away.close()  # every transaction on it now fails as the database being away
    writer = ResultWriter(
        away, "w", Metrics(), api.client.app[CIPHER], flush_size=10, flush_seconds=HOUR
    )
    writer.add(answer(ids[0]))
    with structlog.testing.capture_logs() as logs:
        await writer.close(within=0.5)  # returns: without the bound it retried for ever
    assert [(e["event"], e.get("pending")) for e in logs if e["log_level"] == "warning"][-1] == (
        "results_unwritten",
        1,
    )
    async with api.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT state, lease_owner FROM inquiries WHERE id = $1", ids[0])
        written = await conn.fetchval("SELECT count(*) FROM results WHERE inquiry_id = $1", ids[0])
    assert (row["state"], row["lease_owner"], written) == ("leased", "w", 0)


async def test_closing_while_the_database_does_not_answer_counts_the_group_it_was_writing(
    start_gateway: StartGateway, mocks: Any
) -> None:
    """A database that takes the connection and never answers (a frozen server): the time
    limit ends the write half-way, and the group being written is still counted as left."""
    api, ids = await leased(start_gateway, mocks, 1, seed=97)
    connections: list[asyncio.StreamWriter] = []  # held open, never answered
    silent = await asyncio.start_server(
        lambda _reader, writer: connections.append(writer), "127.0.0.1", 0
    )
    port = silent.sockets[0].getsockname()[1]
    frozen = await db.create_pool(f"postgresql://gateway@127.0.0.1:{port}/gateway", min_size=0)
    try:
        writer = ResultWriter(
            frozen, "w", Metrics(), api.client.app[CIPHER], flush_size=10, flush_seconds=HOUR
        )
        writer.add(answer(ids[0]))
        with structlog.testing.capture_logs() as logs:
            await writer.close(within=0.5)
        assert connections  # the writer was waiting on the frozen server, not refused
        unwritten = [e for e in logs if e["event"] == "results_unwritten"]
        assert [e["pending"] for e in unwritten] == [1]
    finally:
        frozen.terminate()
        silent.close()
        for connection in connections:
            connection.close()
