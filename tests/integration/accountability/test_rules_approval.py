"""A case over the per-case size threshold waits in pending_approval until a commander
approves (it is then dispatched and finishes) or rejects it (final; nothing is asked)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from connectors.registry import AGENCIES
from mocks.population import sample_ids
from tests.conftest import Gateway
from tests.integration.accountability.helpers import (
    OTHER_CASE,
    Clock,
    GatewayFactory,
    auth,
    batch_body,
    file_case,
    metric,
    post_batch,
    recent_wednesday,
    start,
)


async def held_batch(gateway: Gateway, n: int = 6, seed: int = 1) -> dict[str, Any]:
    response = await post_batch(gateway, batch_body(n=n, seed=seed))
    assert response.status == 202
    body = await response.json()
    assert body["status"] == "pending_approval"
    return body


async def decide(gateway: Gateway, batch_id: str, decision: str, **body: Any) -> Any:
    return await gateway.client.post(
        f"/v1/batches/{batch_id}/{decision}",
        json=body or None,
        headers=await auth(gateway, "commander"),
    )


async def results_count(gateway: Gateway, batch_id: str) -> int:
    async with gateway.pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM results WHERE batch_id = $1", batch_id)


async def test_a_held_batch_waits_then_runs_once_approved(
    gateway_factory: GatewayFactory, mocks: Any
) -> None:
    gateway = await start(gateway_factory, approval_threshold=5)
    await file_case(gateway)
    await file_case(gateway, OTHER_CASE)
    held = await held_batch(gateway)
    assert held["progress"]["household"]["total"] == 6
    # A small batch of another case submitted after it is dispatched and finishes: the
    # dispatcher has been round every agency since, and has left the held batch alone.
    small = await post_batch(gateway, batch_body(n=1, seed=50, case=OTHER_CASE))
    assert (await small.json())["status"] != "pending_approval"
    await gateway.wait_finished((await small.json())["id"])
    assert await results_count(gateway, held["id"]) == 0
    officer = await gateway.client.post(
        f"/v1/batches/{held['id']}/approve", headers=await auth(gateway, "officer", "team-a")
    )
    assert officer.status == 403  # an officer cannot approve (not even their own batch)

    response = await decide(gateway, held["id"], "approve", note="案件标的大，批准")
    assert response.status == 200
    assert (await response.json())["status"] in ("queued", "running", "done")
    await gateway.wait_finished(held["id"])
    assert await results_count(gateway, held["id"]) == 6 * len(AGENCIES)
    async with gateway.pool.acquire() as conn:
        actions = await conn.fetch(
            "SELECT action, outcome, detail FROM audit_log WHERE batch_id = $1"
            " AND action IN ('batch.held', 'batch.approved') ORDER BY id",
            held["id"],
        )
    assert [(a["action"], a["outcome"]) for a in actions] == [
        ("batch.held", "pending_approval"),
        ("batch.approved", "approved"),
    ]
    assert actions[0]["detail"] == {"case_subjects": 6, "threshold": 5}
    # the note (free text that may name people) stays on the batch, not in the audit log
    assert actions[1]["detail"] == {"by": "commander-None", "note_characters": 8}
    async with gateway.pool.acquire() as conn:
        kept = await conn.fetchval("SELECT decision_note FROM batches WHERE id = $1", held["id"])
    assert kept == "案件标的大，批准"
    assert await metric(gateway, "gateway_batch_approvals_total", decision="held") == 1
    assert await metric(gateway, "gateway_batch_approvals_total", decision="approved") == 1
    again = await decide(gateway, held["id"], "approve")
    assert again.status == 409 and (await again.json())["error"]["status"] == "done"


async def test_a_batch_approved_days_later_has_its_full_answer_time_from_the_approval(
    gateway_factory: GatewayFactory, mocks: Any
) -> None:
    clock = Clock(recent_wednesday())
    gateway = await start(gateway_factory, clock=clock, approval_threshold=5)
    await file_case(gateway)
    held = await held_batch(gateway)
    clock.local(day_offset=5)  # approved the next Monday: past every agency's 24 h to answer
    approved_at = clock()
    assert (await decide(gateway, held["id"], "approve")).status == 200
    async with gateway.pool.acquire() as conn:
        deadlines = await conn.fetch(
            "SELECT DISTINCT answer_deadline FROM inquiries WHERE batch_id = $1", held["id"]
        )
    # GATEWAY_AGENCY_<NAME>_ANSWER_DEADLINE: 86,400 s by default (README), from the approval
    assert [d["answer_deadline"] for d in deadlines] == [approved_at + timedelta(days=1)]
    await gateway.wait_finished(held["id"])
    async with gateway.pool.acquire() as conn:
        failed = await conn.fetchval(
            "SELECT count(*) FROM results WHERE batch_id = $1 AND status = 'failed'", held["id"]
        )
    assert await results_count(gateway, held["id"]) == 6 * len(AGENCIES) and failed == 0


async def test_a_held_batch_counts_in_the_report_once_it_is_approved(
    gateway_factory: GatewayFactory, mocks: Any
) -> None:
    gateway = await start(gateway_factory, approval_threshold=5)
    await file_case(gateway)
    held = await held_batch(gateway)  # six people, every agency

    async def vehicle_figures() -> dict[str, Any]:
        response = await gateway.client.get("/v1/stats", headers=await auth(gateway, "commander"))
        assert response.status == 200, await response.text()
        figures: dict[str, Any] = (await response.json())["agencies"]["vehicle"]
        return figures

    waiting = await vehicle_figures()  # nobody asked yet: not in the report, not waiting
    assert (waiting["batches"], waiting["people"], waiting["waiting"]) == (0, 0, 0)
    assert (await decide(gateway, held["id"], "approve")).status == 200
    await gateway.wait_finished(held["id"])
    asked = await vehicle_figures()
    assert (asked["batches"], asked["people"], asked["waiting"]) == (1, 6, 0)
    # another held batch its officer cancels before a commander decides: nobody was asked
    other = await held_batch(gateway, seed=2)
    cancelled = await gateway.client.post(
        f"/v1/batches/{other['id']}/cancel", headers=await auth(gateway, "officer", "team-a")
    )
    assert cancelled.status == 200, await cancelled.text()
    after = await vehicle_figures()
    assert (after["batches"], after["people"], after["inquiries"]) == (1, 6, 6)


async def test_a_rejected_batch_is_final_and_nothing_is_asked(
    gateway_factory: GatewayFactory, mocks: Any
) -> None:
    gateway = await start(gateway_factory, approval_threshold=5)
    await file_case(gateway)
    held = await held_batch(gateway)
    response = await decide(gateway, held["id"], "reject", note="理由不充分")
    body = await response.json()
    assert response.status == 200 and body["status"] == "rejected" and body["finished_at"]
    async with gateway.pool.acquire() as conn:
        states = await conn.fetch(
            "SELECT DISTINCT state FROM inquiries WHERE batch_id = $1", held["id"]
        )
        audited = await conn.fetch(
            "SELECT detail FROM audit_log WHERE batch_id = $1 AND action = 'batch.rejected'",
            held["id"],
        )
        kept = await conn.fetchval("SELECT decision_note FROM batches WHERE id = $1", held["id"])
    assert [s["state"] for s in states] == ["cancelled"]
    assert [a["detail"] for a in audited] == [{"by": "commander-None", "note_characters": 5}]
    assert kept == "理由不充分"
    assert sum(mocks.stats(agency)["requests"] for agency in AGENCIES) == 0
    for decision in ("approve", "reject"):
        late = await decide(gateway, held["id"], decision)
        assert late.status == 409 and (await late.json())["error"]["status"] == "rejected"
    cancel = await gateway.client.post(
        f"/v1/batches/{held['id']}/cancel", headers=await auth(gateway, "officer", "team-a")
    )
    assert cancel.status == 409


async def test_the_threshold_counts_the_cases_earlier_batches(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await start(gateway_factory, approval_threshold=5, dispatch=False)
    await file_case(gateway)
    people = sample_ids(7, seed=3)
    first = await post_batch(gateway, batch_body(people[:3]))
    assert (await first.json())["status"] == "queued"
    second = await post_batch(gateway, batch_body(people[3:6]))
    assert (await second.json())["status"] == "pending_approval"  # 6 people for the case


async def test_an_officer_may_cancel_a_held_batch(gateway_factory: GatewayFactory) -> None:
    gateway = await start(gateway_factory, approval_threshold=5, dispatch=False)
    await file_case(gateway)
    held = await held_batch(gateway)
    response = await gateway.client.post(
        f"/v1/batches/{held['id']}/cancel", headers=await auth(gateway, "officer", "team-a")
    )
    assert response.status == 200 and (await response.json())["status"] == "cancelled"
    late = await decide(gateway, held["id"], "approve")
    assert late.status == 409


async def test_decisions_check_their_input(gateway_factory: GatewayFactory) -> None:
    gateway = await start(gateway_factory, approval_threshold=5, dispatch=False)
    await file_case(gateway)
    held = await held_batch(gateway)
    for body, status, field in [
        ({"note": 7}, 422, "note"),
        ({"other": "x"}, 422, "other"),
    ]:
        response = await decide(gateway, held["id"], "approve", **body)
        assert response.status == status
        assert (await response.json())["error"]["problems"][0]["field"] == field
    missing = await decide(gateway, "00000000-0000-0000-0000-000000000000", "approve")
    assert missing.status == 404
    not_json = await gateway.client.post(
        f"/v1/batches/{held['id']}/reject",
        data=b"{nope",
        headers={**await auth(gateway, "commander"), "Content-Type": "application/json"},
    )
    assert not_json.status == 400
