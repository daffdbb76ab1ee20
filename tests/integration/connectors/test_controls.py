"""Control actions (seal, seize, freeze) at the four asset agencies, through ``ControlClient``.

Every test runs against each of the four stand-ins over real HTTP (the restart test against
mocks of its own, keeping their holds in a temporary directory). Dates are the orders'
(the stand-in trusts ``order_date`` as its today); the last days below are computed by hand:
a term of N days ordered on D ends on D + N - 1, and 2028 is a leap year.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

import aiohttp
import pytest

from connectors.base import Subject
from connectors.controls import (
    ASSET_FIELDS,
    CONTROL_ACTIONS,
    ControlAnswer,
    ControlClient,
    HoldOrder,
)
from connectors.errors import AgencyBadAnswer, AgencyUnavailable, ControlRefused
from mocks.controls import DESKS
from mocks.testing import RunningMocks, running_mocks
from tests.integration.connectors.conftest import REQUESTER, found_for, raw, subject

AGENCIES = sorted(CONTROL_ACTIONS)
COURT, OTHER, THIRD = "四平市中级人民法院", "长春市中级人民法院", "吉林市中级人民法院"
ORDERED = date(2026, 12, 3)
#: agency -> (term in days, its last day from 2026-12-03, that day + a 365-day renewal)
TERMS: dict[str, tuple[int, date, date]] = {
    "realestate": (1095, date(2029, 12, 1), date(2030, 12, 1)),
    "forestry": (1095, date(2029, 12, 1), date(2030, 12, 1)),
    "vehicle": (730, date(2028, 12, 1), date(2029, 12, 1)),
    "subsidy": (365, date(2027, 12, 2), date(2028, 12, 1)),
}
#: an action each desk does not take
DISALLOWED = {"realestate": "seize", "forestry": "freeze", "vehicle": "freeze", "subsidy": "seal"}


def key() -> str:
    return str(uuid.uuid4())


def assets_of(agency: str, agency_mocks: RunningMocks, id_number: str) -> list[str]:
    """The asset identifiers of the subject's record, where ``ASSET_FIELDS`` says they are."""
    record = agency_mocks.truth(agency, id_number)
    assert record is not None
    listing, field = ASSET_FIELDS[agency]
    return [entry[field] for entry in record[listing]]


@cache
def holders(agency: str) -> list[tuple[str, str]]:
    """Two subjects the agency holds assets of (name, ID)."""
    return found_for(agency, 2)


def order(agency: str, agency_mocks: RunningMocks, **changes: object) -> HoldOrder:
    """COURT's order on the first asset of the first subject the agency knows."""
    (name, id_number), _ = holders(agency)
    action = sorted(CONTROL_ACTIONS[agency])[0]
    base = HoldOrder(
        idempotency_key=key(),
        court=COURT,
        case_number=REQUESTER.case_number,
        action=action,
        subject=subject(name, id_number),
        asset=assets_of(agency, agency_mocks, id_number)[0],
        term_days=TERMS[agency][0],
        amount=Decimal("1234.50") if action == "freeze" else None,
        order_date=ORDERED,
    )
    return replace(base, **changes)


@pytest.fixture
def desk(agency: str, agency_mocks: RunningMocks, http: aiohttp.ClientSession) -> ControlClient:
    return ControlClient(http, agency, agency_mocks.urls[agency], timeout=5.0)


pytestmark = pytest.mark.parametrize("agency", AGENCIES)


async def test_a_hold_takes_effect_for_its_term(
    agency: str, desk: ControlClient, agency_mocks: RunningMocks, http: aiohttp.ClientSession
) -> None:
    _, last, _ = TERMS[agency]
    answer = await desk.hold(order(agency, agency_mocks), REQUESTER)
    prefix = DESKS[agency].receipt_prefix
    assert answer == ControlAnswer("in_effect", f"{prefix}-000001", None, ORDERED, last)
    _, listing = await raw(http, "GET", agency_mocks.urls[agency] + "/admin/controls")
    assert [h["receipt_no"] for h in listing["holds"]] == [answer.receipt_no]
    assert listing["holds"] == agency_mocks.holds(agency)
    assert (await desk.status(answer.receipt_no, REQUESTER, on=last)).state == "in_effect"
    lapsed = await desk.status(answer.receipt_no, REQUESTER, on=last + timedelta(days=1))
    assert (lapsed.state, lapsed.expires_on) == ("expired", last)
    stats = agency_mocks.stats(agency)
    assert (stats["control_requests"], stats["holds_created"]) == (3, 1)


async def test_another_court_waits_in_line_then_takes_effect_on_release(
    agency: str, desk: ControlClient, agency_mocks: RunningMocks
) -> None:
    first = await desk.hold(order(agency, agency_mocks), REQUESTER)
    second = await desk.hold(order(agency, agency_mocks, court=OTHER, term_days=365), REQUESTER)
    third = await desk.hold(order(agency, agency_mocks, court=THIRD), REQUESTER)
    assert (second.state, second.position, second.effective_on) == ("queued", 1, None)
    assert (third.state, third.position) == ("queued", 2)

    released = await desk.release(first.receipt_no, key(), date(2027, 3, 1), REQUESTER)
    assert released == ControlAnswer("released", first.receipt_no, released_on=date(2027, 3, 1))
    now = await desk.status(second.receipt_no, REQUESTER, on=date(2027, 3, 1))
    # 365 days from 2027-03-01 end on 2028-02-28: the leap day 2028-02-29 is inside.
    assert now == ControlAnswer(
        "in_effect", second.receipt_no, None, date(2027, 3, 1), date(2028, 2, 28)
    )
    waiting = await desk.status(third.receipt_no, REQUESTER, on=date(2027, 3, 1))
    assert (waiting.state, waiting.position) == ("queued", 1)
    assert [h["state"] for h in agency_mocks.holds(agency)] == ["released", "in_effect", "queued"]


async def test_a_lapsed_hold_gives_way_to_the_next_in_line(
    agency: str, desk: ControlClient, agency_mocks: RunningMocks
) -> None:
    _, last, _ = TERMS[agency]
    await desk.hold(order(agency, agency_mocks), REQUESTER)
    waiting = await desk.hold(order(agency, agency_mocks, court=OTHER, term_days=30), REQUESTER)
    after = last + timedelta(days=1)
    now = await desk.status(waiting.receipt_no, REQUESTER, on=after)
    assert (now.state, now.effective_on, now.expires_on) == (
        "in_effect",
        after,
        after + timedelta(29),
    )
    # The first court lost its place: asking again, it waits behind the second.
    again = await desk.hold(order(agency, agency_mocks, order_date=after), REQUESTER)
    assert (again.state, again.position) == ("queued", 1)


async def test_the_same_key_gets_the_same_answer_and_no_second_hold(
    agency: str, desk: ControlClient, agency_mocks: RunningMocks
) -> None:
    the_order = order(agency, agency_mocks)
    first = await desk.hold(the_order, REQUESTER)
    assert await desk.hold(the_order, REQUESTER) == first
    stats = agency_mocks.stats(agency)
    assert (stats["control_requests"], stats["holds_created"]) == (2, 1)
    assert len(agency_mocks.holds(agency)) == 1


async def test_a_key_reused_for_another_body_is_refused(
    agency: str, desk: ControlClient, agency_mocks: RunningMocks, http: aiohttp.ClientSession
) -> None:
    the_order = order(agency, agency_mocks)
    await desk.hold(the_order, REQUESTER)
    with pytest.raises(ControlRefused) as refused:
        await desk.hold(replace(the_order, term_days=10), REQUESTER)
    assert refused.value.code == "key_reused"
    body = {**replace(the_order, term_days=10).to_json()}
    status, answer = await raw(http, "POST", agency_mocks.urls[agency] + "/v1/controls", json=body)
    assert status == 409 and answer["code"] == "key_reused"
    assert agency_mocks.stats(agency)["holds_created"] == 1


async def test_refusals(agency: str, desk: ControlClient, agency_mocks: RunningMocks) -> None:
    _, (name, other_id) = holders(agency)
    someone_elses = assets_of(agency, agency_mocks, other_id)[0]
    cases = {
        "unknown_asset": order(agency, agency_mocks, asset=someone_elses),
        "not_allowed": order(agency, agency_mocks, action=DISALLOWED[agency]),
        "bad_request": order(agency, agency_mocks, subject=Subject(name, "123")),
    }
    for code, refused_order in cases.items():
        with pytest.raises(ControlRefused) as refused:
            await desk.hold(refused_order, REQUESTER)
        assert (refused.value.code, refused.value.agency) == (code, agency)
        assert refused.value.reason  # the agency's own words, in Chinese
    await desk.hold(order(agency, agency_mocks), REQUESTER)
    with pytest.raises(ControlRefused, match="本院已对该财产采取控制措施") as refused:
        await desk.hold(order(agency, agency_mocks), REQUESTER)
    assert refused.value.code == "already_held"
    with pytest.raises(ControlRefused) as refused:
        await desk.status("NOSUCH-000001", REQUESTER)
    assert refused.value.code == "unknown_receipt"
    assert agency_mocks.stats(agency)["holds_created"] == 1


async def test_renewal_before_the_end_extends_by_the_term(
    agency: str, desk: ControlClient, agency_mocks: RunningMocks
) -> None:
    _, last, renewed = TERMS[agency]
    held = await desk.hold(order(agency, agency_mocks), REQUESTER)
    answer = await desk.renew(held.receipt_no, key(), 365, last, REQUESTER)  # on its last day
    assert answer == ControlAnswer("in_effect", held.receipt_no, None, ORDERED, renewed)
    assert (await desk.status(held.receipt_no, REQUESTER, on=renewed)).state == "in_effect"


async def test_renewal_or_release_after_the_end_is_refused(
    agency: str, desk: ControlClient, agency_mocks: RunningMocks
) -> None:
    _, last, _ = TERMS[agency]
    held = await desk.hold(order(agency, agency_mocks), REQUESTER)
    after = last + timedelta(days=1)
    with pytest.raises(ControlRefused) as refused:
        await desk.renew(held.receipt_no, key(), 365, after, REQUESTER)
    assert refused.value.code == "expired"
    with pytest.raises(ControlRefused) as refused:
        await desk.release(held.receipt_no, key(), after, REQUESTER)
    assert refused.value.code == "expired"


async def test_release_is_idempotent_and_ends_renewal(
    agency: str, desk: ControlClient, agency_mocks: RunningMocks
) -> None:
    held = await desk.hold(order(agency, agency_mocks), REQUESTER)
    queued = await desk.hold(order(agency, agency_mocks, court=OTHER), REQUESTER)
    with pytest.raises(ControlRefused) as refused:
        await desk.renew(queued.receipt_no, key(), 365, ORDERED, REQUESTER)
    assert refused.value.code == "not_in_effect"
    day = date(2027, 1, 4)
    released = await desk.release(held.receipt_no, key(), day, REQUESTER)
    assert await desk.release(held.receipt_no, key(), date(2027, 2, 1), REQUESTER) == released
    assert released.released_on == day
    with pytest.raises(ControlRefused) as refused:
        await desk.renew(held.receipt_no, key(), 365, day, REQUESTER)
    assert refused.value.code == "released"
    # Released while waiting: nothing takes effect, nobody was ahead of it.
    gone = await desk.release(queued.receipt_no, key(), day, REQUESTER)
    assert gone.state == "released"
    assert (await desk.status(queued.receipt_no, REQUESTER, on=day)).state == "released"


async def test_faults_apply_and_the_key_recovers_a_lost_answer(
    agency: str, desk: ControlClient, agency_mocks: RunningMocks
) -> None:
    the_order = order(agency, agency_mocks)
    agency_mocks.set_faults(agency, {"500": 1.0})
    with pytest.raises(AgencyUnavailable):
        await desk.hold(the_order, REQUESTER)
    assert agency_mocks.holds(agency) == []
    agency_mocks.set_faults(agency, {"malformed": 1.0})  # the hold is made, its answer spoilt
    with pytest.raises(AgencyBadAnswer):
        await desk.hold(the_order, REQUESTER)
    agency_mocks.set_faults(agency, {})
    answer = await desk.hold(the_order, REQUESTER)
    assert answer.receipt_no == agency_mocks.holds(agency)[0]["receipt_no"]
    assert agency_mocks.stats(agency)["holds_created"] == 1


async def test_no_control_without_a_lawful_basis(
    agency: str, agency_mocks: RunningMocks, http: aiohttp.ClientSession
) -> None:
    body = order(agency, agency_mocks).to_json()
    url = agency_mocks.urls[agency] + "/v1/controls"
    status, _ = await raw(http, "POST", url, json=body, requester=False)
    assert status == 400 and agency_mocks.holds(agency) == []


async def test_holds_survive_a_restart(
    agency: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    async with running_mocks(state_dir=tmp_path) as mocks:
        desk = ControlClient(http, agency, mocks.urls[agency], timeout=5.0)
        first = order(agency, mocks)
        held = await desk.hold(first, REQUESTER)
        queued = await desk.hold(order(agency, mocks, court=OTHER), REQUESTER)
        before = mocks.holds(agency)
        await mocks.restart(agency)  # stopped and started with the same state directory

        assert mocks.holds(agency) == before
        assert mocks.stats(agency)["holds_created"] == 0  # statistics start afresh
        assert await desk.hold(first, REQUESTER) == held  # answers by key survive too
        assert (await desk.status(queued.receipt_no, REQUESTER, on=ORDERED)).position == 1
        third = await desk.hold(order(agency, mocks, court=THIRD), REQUESTER)
        assert third.receipt_no == f"{DESKS[agency].receipt_prefix}-000003"
        assert mocks.stats(agency)["holds_created"] == 1
    async with running_mocks(state_dir=tmp_path) as mocks:
        assert [h["receipt_no"] for h in mocks.holds(agency)][-1] == third.receipt_no
        status, _ = await raw(http, "POST", mocks.urls[agency] + "/admin/reset")
        assert status == 200 and mocks.holds(agency) == []
    async with running_mocks(state_dir=tmp_path) as mocks:
        assert mocks.holds(agency) == []  # the reset was written down


def test_the_clients_table_agrees_with_the_desks(agency: str) -> None:
    assert CONTROL_ACTIONS[agency] == DESKS[agency].actions
