"""The fan-out: every subject x agency asked once, answers equal the agencies' ground truth,
each result recorded once with its audit record, and no personal data in the logs."""

from __future__ import annotations

import io
import json
import logging
import re
from typing import Any

import structlog

from connectors.registry import AGENCIES
from gateway.core import logs
from mocks.population import sample_ids
from tests import conftest
from tests.conftest import Gateway, batch_body

CASE = "（2023）吉0303执保7号"


def body(subjects: list[tuple[str, str]], agencies: list[str] | None = None) -> dict[str, Any]:
    return batch_body(subjects, case=CASE, agencies=agencies, reason="财产调查")


async def test_results_equal_the_agencies_ground_truth(gateway: Gateway, mocks: Any) -> None:
    subjects = sample_ids(40, seed=7)
    created = await gateway.submit(body(subjects))
    await gateway.wait_finished(created["id"])
    results = await gateway.all_results(created["id"])
    assert len(results) == 40 * len(AGENCIES)
    by_key = {(r["subject"]["id_number"], r["agency"]): r for r in results}
    found = 0
    for _name, id_number in subjects:
        for agency in AGENCIES:
            result = by_key[(id_number, agency)]
            truth = mocks.truth(agency, id_number, case_number=CASE)
            assert result["status"] == ("not_found" if truth is None else "found"), (agency, result)
            assert result["data"] == truth, agency
            assert result["error"] is None and result["attempts"] == 1
            found += truth is not None
    assert 0 < found < 40 * len(AGENCIES)  # a realistic mix, not all one way


async def test_every_inquiry_has_exactly_one_result_and_its_audit_records(gateway: Gateway) -> None:
    created = await gateway.submit(body(sample_ids(25, seed=3)))
    await gateway.wait_finished(created["id"])
    async with gateway.pool.acquire() as conn:
        inquiries = await conn.fetchval("SELECT count(*) FROM inquiries")
        per_inquiry = await conn.fetch(
            "SELECT i.id, count(r.inquiry_id) AS n FROM inquiries i "
            "LEFT JOIN results r ON r.inquiry_id = i.id GROUP BY i.id"
        )
        audit = await conn.fetch(
            "SELECT action, officer, team, case_number, row, agency, outcome, at "
            "FROM audit_log WHERE batch_id = $1",
            created["id"],
        )
    assert inquiries == 25 * len(AGENCIES)
    assert {row["n"] for row in per_inquiry} == {1}
    actions = [a["action"] for a in audit]
    assert actions.count("batch.submitted") == 1
    assert actions.count("inquiry.dispatched") == inquiries
    assert actions.count("inquiry.result") == inquiries
    for record in audit:
        assert record["officer"] == "officer-team-a" and record["team"] == "team-a"
        assert record["case_number"] == CASE and record["at"] is not None
        if record["action"] != "batch.submitted":
            assert record["agency"] in AGENCIES and record["row"] is not None
            assert record["outcome"]


async def test_a_chosen_subset_of_agencies_is_all_that_is_asked(
    gateway: Gateway, mocks: Any
) -> None:
    created = await gateway.submit(body(sample_ids(5, seed=4), agencies=["forestry"]))
    await gateway.wait_finished(created["id"])
    results = await gateway.all_results(created["id"])
    assert {r["agency"] for r in results} == {"forestry"}
    assert mocks.stats("household")["requests"] == 0


async def test_the_requester_is_carried_onward_to_every_agency(
    gateway: Gateway, mocks: Any
) -> None:
    created = await gateway.submit(body(sample_ids(3, seed=5)))
    await gateway.wait_finished(created["id"])
    for agency in AGENCIES:
        by_officer = mocks.stats(agency)["by_officer"]
        assert set(by_officer) == {"officer-team-a"}, agency


async def test_no_log_line_holds_a_full_resident_id_or_a_name(
    gateway_factory: Any, mocks: Any
) -> None:
    # Demo-sized: 200 debtors to all six agencies, with agency faults and refused submissions
    # on the way, so error paths log too. No rate limits, to keep it quick.
    unlimited = {
        name: agency.model_copy(update={"max_rps": 0.0})
        for name, agency in conftest.test_settings(mocks.urls).agencies.items()
    }
    gateway: Gateway = await gateway_factory(agencies=unlimited, max_attempts=2)
    mocks.set_faults("vehicle", {"500": 0.2, "malformed": 0.1})
    stream = io.StringIO()
    # Put back what was configured before, not some other level: a test after this one in the
    # same process (capturing debug lines) must find the configuration it would otherwise.
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    logs.configure("debug", "json", stream=stream)
    try:
        subjects = sample_ids(200, seed=11)
        created = await gateway.submit(body(subjects))
        bad_row = {**body(subjects[:2]), "subjects": [{"name": subjects[0][0], "id_number": "1"}]}
        refused = await gateway.client.post(
            "/v1/batches", json=bad_row, headers=await gateway.headers()
        )
        assert refused.status == 422
        await gateway.wait_finished(created["id"])
        await gateway.all_results(created["id"])
        # A caller-supplied ID in a free-text field must be masked too.
        structlog.get_logger("test").info("free_text", note=f"debtor {subjects[0][1]} called")
    finally:
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(level)
    lines = stream.getvalue().splitlines()
    assert any(json.loads(line)["event"] == "http_request" for line in lines)
    assert any(json.loads(line)["event"] == "agency_call" for line in lines)
    text = stream.getvalue()
    for name, id_number in subjects:
        assert id_number not in text
        assert name not in text
    assert re.search(r"(?<![0-9A-Za-z])\d{17}[\dX](?![0-9A-Za-z])", text) is None
    assert "debtor 2" in text and "***" in text  # the masked form is there instead
