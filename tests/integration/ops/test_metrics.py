"""The /metrics page of a running gateway: valid for ``promtool check metrics``, and its
figures equal to what a known set of batches must give, counted from the stand-ins' ground
truth, the test's own actions and the database; the cluster-wide figures exported by one
replica only, the leader, whichever it is."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from connectors.registry import AGENCIES
from gateway.http.keys import FIGURES, LEADERSHIP
from mocks.population import sample_ids
from tests.conftest import CASE, Gateway, batch_body
from tests.integration.ops.metrics_page import Page, promtool_check_metrics, scrape

#: a batch of more distinct subjects per case than this is held for approval
THRESHOLD = 12
#: the police station took the request for detention assistance (docs/agencies.md, police)
ASSISTED = frozenset({"accepted", "dispatched"})
#: the gauges counted in the database: the leader's alone
CLUSTER_WIDE = (
    "gateway_queue_depth",
    "gateway_inquiries_waiting",
    "gateway_inquiries_late",
    "gateway_batches",
    "gateway_detentions_assisted",
    "gateway_audit_chain_length",
    "gateway_audit_chain_verified",
    "gateway_audit_verification_records",
    "gateway_audit_verification_timestamp_seconds",
)


async def lead(gateway: Gateway) -> None:
    """Wait until this replica leads, then count and verify now (not at the next round)."""
    app = gateway.client.app
    await asyncio.wait_for(app[LEADERSHIP].wait_leading(), 30)
    assert await app[FIGURES].refresh()
    assert await app[FIGURES].verify() is not None


async def post(gateway: Gateway, path: str, role: str, team: str | None) -> None:
    response = await gateway.client.post(path, headers=await gateway.headers(role, team))
    assert response.status == 200, await response.text()


async def database(gateway: Gateway, query: str) -> list[Any]:
    async with gateway.pool.acquire() as conn:
        return await conn.fetch(query)


@pytest.mark.timeout(900)  # promtool may first have to be installed (tests/system_packages)
async def test_the_page_passes_promtool_and_counts_a_known_set_of_batches(
    gateway_factory: Any, mocks: Any, promtool: str
) -> None:
    gateway = await gateway_factory(approval_threshold=THRESHOLD)
    people = sample_ids(THRESHOLD, seed=71, organisations=0.1)
    done = await gateway.submit(batch_body(people))
    held, rejected, cancelled = [
        await gateway.submit(batch_body(n=THRESHOLD + 1, seed=seed, case=case))
        for seed, case in ((72, "（2022）吉03执124号"), (73, "（2022）吉03执125号"),
                           (74, "（2022）吉03执126号"))
    ]  # fmt: skip
    assert {held["status"], rejected["status"], cancelled["status"]} == {"pending_approval"}
    await post(gateway, f"/v1/batches/{rejected['id']}/reject", "commander", None)
    await post(gateway, f"/v1/batches/{cancelled['id']}/cancel", "officer", "team-a")
    await gateway.wait_finished(done["id"])
    await lead(gateway)
    page = await scrape(gateway)

    code, said = await promtool_check_metrics(promtool, page.text)
    assert (code, said) == (0, ""), said

    # Inquiries completed, per agency and status: what the agencies hold for these people.
    truth = {
        agency: [mocks.truth(agency, number, case_number=CASE) for _, number in people]
        for agency in AGENCIES
    }
    expected: Counter[tuple[str, str]] = Counter()
    for agency, records in truth.items():
        for record in records:
            expected[agency, "not_found" if record is None else "found"] += 1
    assert page.by("gateway_inquiries_completed_total", "agency", "status") == {
        key: float(n) for key, n in expected.items()
    }
    stored = await database(
        gateway, "SELECT agency, status, count(*) AS n FROM results GROUP BY agency, status"
    )
    assert {(r["agency"], r["status"]): r["n"] for r in stored} == dict(expected)

    # Batches by status: what this test did with them.
    assert page.by("gateway_batches", "status") == {
        ("done",): 1.0,
        ("pending_approval",): 1.0,
        ("rejected",): 1.0,
        ("cancelled",): 1.0,
        ("queued",): 0.0,
        ("running",): 0.0,
    }
    # The queue: only the held batch's inquiries, one per subject and agency.
    assert page.by("gateway_queue_depth", "agency", "state") == {
        (agency, state): float(THRESHOLD + 1 if state == "held" else 0)
        for agency in AGENCIES
        for state in ("queued", "leased", "held")
    }
    for name in ("gateway_inquiries_waiting", "gateway_inquiries_late"):
        assert page.by(name, "agency") == {(agency,): 0.0 for agency in AGENCIES}, name

    # Detentions assisted: the people whose station took the request, by the ground truth.
    police = [record for record in truth["police"] if record is not None]
    assisted = sum(1 for record in police if record["status"] in ASSISTED)
    assert assisted == len(police) > 0  # the stand-in's every found answer is one
    assert page.by("gateway_detentions_assisted", "agency") == {("police",): float(assisted)}

    # The audit chain: its length is the log's, verified intact from end to end.
    [row] = await database(gateway, "SELECT count(*) AS n FROM audit_log")
    assert row["n"] > len(people) * len(AGENCIES)  # a dispatch and a result each, at least
    assert page.value("gateway_audit_chain_length") == row["n"]
    assert page.value("gateway_audit_verification_records") == row["n"]
    assert page.value("gateway_audit_chain_verified") == 1
    assert (page.value("gateway_audit_verification_timestamp_seconds") or 0) > 0
    assert page.value("gateway_cluster_leader") == 1

    # No personal data in any label or value.
    for name, number in [*people, *sample_ids(THRESHOLD + 1, seed=72)]:
        assert number not in page.text and name not in page.text


def cluster_samples(page: Page) -> dict[str, int]:
    return {name: len(page.family(name)) for name in CLUSTER_WIDE if page.family(name)}


async def test_one_replica_exports_the_cluster_wide_figures_and_another_takes_over(
    gateway_factory: Any,
) -> None:
    first = await gateway_factory(leader_seconds=0.2)
    await lead(first)
    second = await gateway_factory(leader_seconds=0.2)
    done = await second.submit(batch_body(n=4, seed=81))
    await second.wait_finished(done["id"])
    assert await first.client.app[FIGURES].refresh()
    assert not await second.client.app[FIGURES].refresh()  # it does not lead

    pages = [await scrape(first), await scrape(second)]
    assert pages[0].value("gateway_cluster_leader") == 1
    assert pages[1].value("gateway_cluster_leader") == 0
    assert set(cluster_samples(pages[0])) == set(CLUSTER_WIDE)
    assert cluster_samples(pages[1]) == {}  # declared, without a sample
    # Summed over the replicas as Prometheus would, each batch counts once.
    done_batches = sum(page.value("gateway_batches", status="done") or 0 for page in pages)
    assert done_batches == 1
    assert sum(page.value("gateway_cluster_leader") or 0 for page in pages) == 1

    # The leader stops: its session ends, the lock is free, and the other replica takes it.
    await first.client.close()
    await asyncio.wait_for(second.client.app[LEADERSHIP].wait_leading(), 30)
    assert await second.client.app[FIGURES].refresh()
    page = await scrape(second)
    assert page.value("gateway_cluster_leader") == 1
    assert page.value("gateway_batches", status="done") == 1
    [row] = await database(second, "SELECT count(*) AS n FROM audit_log")
    assert page.value("gateway_audit_chain_length") == row["n"]


async def test_a_leader_whose_connection_is_cut_leads_again_once_it_reconnects(
    gateway_factory: Any,
) -> None:
    gateway = await gateway_factory(leader_seconds=0.2)
    leadership = gateway.client.app[LEADERSHIP]
    await asyncio.wait_for(leadership.wait_leading(), 30)
    [row] = await database(
        gateway,
        "SELECT pg_terminate_backend(pid) AS cut FROM pg_locks"
        " WHERE locktype = 'advisory' AND objsubid = 2 AND granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    assert row["cut"]
    await asyncio.wait_for(leadership.wait_change(True), 30)  # it noticed
    await asyncio.wait_for(leadership.wait_leading(), 30)  # and took the lead again
    assert await gateway.client.app[FIGURES].refresh()


async def test_a_broken_audit_chain_is_exported_as_failed(gateway: Gateway) -> None:
    done = await gateway.submit(batch_body(n=2, seed=91))
    await gateway.wait_finished(done["id"])
    await lead(gateway)
    assert (await scrape(gateway)).value("gateway_audit_chain_verified") == 1
    async with gateway.pool.acquire() as conn, conn.transaction():
        # What a database administrator could do: lift the refusals and rewrite a record.
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        await conn.execute("UPDATE audit_log SET outcome = 'not_found' WHERE seq = 3")
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
    verification = await gateway.client.app[FIGURES].verify()
    assert verification is not None and verification.first_broken is not None
    assert verification.first_broken.seq == 3
    page = await scrape(gateway)
    assert page.value("gateway_audit_chain_verified") == 0
    assert page.value("gateway_audit_verification_records") == 2
