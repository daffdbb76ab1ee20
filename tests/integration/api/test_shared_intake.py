"""A large list's checking and sealing shared with a helper process: what is stored is what
one process alone stores (the same subjects, their sealed names and identifiers opening to
the list's own, the same digests), and a bad row is refused the same way.

The share starts at ``SHARE_FROM`` rows; the test lowers it to 40 so that its lists are small
(and seals 7 subjects at a time instead of 5,000, so that its lists are stored in chunks).
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.accountability import sealing
from gateway.core import offload
from gateway.http import intake
from gateway.http.keys import CIPHER, OFFLOAD
from gateway.store.crypto import subject_context
from mocks.population import sample_ids
from tests.conftest import Gateway, batch_body
from tests.integration.api.hostile import stored_batches

ROWS = 50


@pytest.fixture(autouse=True)
def small_share(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(intake, "SHARE_FROM", 40)
    monkeypatch.setattr(sealing, "SEAL_CHUNK", 7)  # several chunks sealed while stored


@pytest.fixture
def helper_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The functions sent to a helper process, in order (the start's ready_helper left out)."""
    calls: list[str] = []
    submit = offload.Offload.submit

    def recorded(self: offload.Offload, function: Any, *args: Any) -> Any:
        if function.__name__ != "ready_helper":
            calls.append(function.__name__)
        return submit(self, function, *args)

    monkeypatch.setattr(offload.Offload, "submit", recorded)
    return calls


async def _stored(api: Gateway, batch_id: str) -> list[tuple[int, str, str, bytes]]:
    cipher = api.client.app[CIPHER]
    rows = await api.pool.fetch(
        "SELECT row, name, id_number, subject_digest FROM subjects WHERE batch_id = $1"
        " ORDER BY row",
        batch_id,
    )
    return [
        (
            r["row"],
            cipher.open_text(r["name"], subject_context(batch_id, r["row"], "name")),
            cipher.open_text(r["id_number"], subject_context(batch_id, r["row"], "id")),
            bytes(r["subject_digest"]),
        )
        for r in rows
    ]


async def test_a_shared_list_is_stored_as_one_process_stores_it(
    gateway_factory: Any, helper_calls: list[str]
) -> None:
    people = sample_ids(ROWS, seed=71)
    body = batch_body(people, agencies=["vehicle"])
    shared = await gateway_factory(dispatch=False, intake_processes=1)
    alone = await gateway_factory(dispatch=False, intake_processes=0)
    stored = []
    for api in (shared, alone):
        batch = await api.submit(body)
        assert batch["subject_count"] == ROWS
        stored.append(await _stored(api, batch["id"]))
    assert [(row, name, number) for row, name, number, _ in stored[0]] == [
        (row, name, number) for row, (name, number) in enumerate(people)
    ]
    assert stored[0] == stored[1]  # digests too: the same keys in both processes
    # the helper checked, digested and sealed the last rows, in one trip (the other gateway,
    # without one, did it all itself)
    assert helper_calls == ["checked_and_sealed"]
    assert shared.client.app[OFFLOAD].running
    digests = [digest for *_, digest in stored[0]]
    assert digests == [shared.client.app[CIPHER].subject_digest(i) for _, i in people]


async def test_a_bad_row_in_the_helpers_rows_is_refused_by_its_row(
    gateway_factory: Any, helper_calls: list[str]
) -> None:
    people = sample_ids(ROWS, seed=72, organisations=0)
    body = batch_body(people, agencies=["vehicle"])
    number = body["subjects"][ROWS - 3]["id_number"]
    body["subjects"][ROWS - 3]["id_number"] = number[:-1] + ("1" if number[-1] == "0" else "0")
    api = await gateway_factory(dispatch=False, intake_processes=1)
    response = await api.client.post("/v1/batches", json=body, headers=await api.headers())
    assert response.status == 422, await response.text()
    problems = (await response.json())["error"]["problems"]
    assert [(p["row"], p["field"]) for p in problems] == [(ROWS - 3, "id_number")]
    assert await stored_batches(api) == 0
    assert helper_calls == ["checked_and_sealed"]


async def test_repeats_in_the_helpers_rows_are_merged_as_alone(
    gateway_factory: Any, helper_calls: list[str]
) -> None:
    people = sample_ids(ROWS, seed=73)
    tail_from = ROWS - int(ROWS * intake.HELPER_SHARE)  # the helper checks and seals these
    # row: the earlier row it repeats (in the rows checked here, and in the helper's; the
    # last row checked here and the helper's first, at the edge)
    repeats = {7: 2, tail_from - 1: 4, tail_from: 5, tail_from + 5: 3, ROWS - 5: tail_from + 2}
    for row, earlier in repeats.items():
        people[row] = people[earlier]
    body = batch_body(people, agencies=["vehicle"])
    shared = await gateway_factory(dispatch=False, intake_processes=1)
    alone = await gateway_factory(dispatch=False, intake_processes=0)
    stored = []
    for api in (shared, alone):
        batch = await api.submit(body)
        merged = len(repeats)
        assert (batch["subject_count"], batch["merged_rows"]) == (ROWS - merged, merged)
        stored.append(await _stored(api, batch["id"]))
    assert helper_calls == ["checked_and_sealed"]  # by the first gateway, not the other
    kept = [(row, name, number) for row, (name, number) in enumerate(people) if row not in repeats]
    assert [(row, name, number) for row, name, number, _ in stored[0]] == kept
    assert stored[0] == stored[1]


async def test_a_name_clash_in_the_helpers_rows_is_refused(
    gateway_factory: Any, helper_calls: list[str]
) -> None:
    people = sample_ids(ROWS, seed=74, organisations=0)
    clash = ROWS - 3
    people[clash] = ("另一人", people[4][1])
    body = batch_body(people, agencies=["vehicle"])
    api = await gateway_factory(dispatch=False, intake_processes=1)
    response = await api.client.post("/v1/batches", json=body, headers=await api.headers())
    assert response.status == 422, await response.text()
    problems = (await response.json())["error"]["problems"]
    assert [(p["row"], p["field"], p.get("earlier_row")) for p in problems] == [(clash, "name", 4)]
    assert await stored_batches(api) == 0
    assert helper_calls == ["checked_and_sealed"]
