"""Every fault a mock can inject is classified into the right AgencyError, for every agency,
and no error message carries a resident ID or a name."""

from __future__ import annotations

import pytest

from connectors.base import Requester
from connectors.errors import (
    AgencyBadAnswer,
    AgencyError,
    AgencyRateLimited,
    AgencyRejected,
    AgencyTimeout,
    AgencyUnavailable,
)
from connectors.registry import AGENCIES
from mocks.testing import RunningMocks
from tests.integration.connectors.conftest import REQUESTER, SAMPLE, Connect, subject

EXPECTED: dict[str, type[AgencyError]] = {
    "500": AgencyUnavailable,
    "503": AgencyUnavailable,
    "429": AgencyRateLimited,
    "hang": AgencyTimeout,
    "reset": AgencyUnavailable,
    "truncate": AgencyBadAnswer,
    "malformed": AgencyBadAnswer,
    "content_type": AgencyBadAnswer,
    "400": AgencyRejected,
    "outage": AgencyUnavailable,
}
#: per-attempt timeout for these tests: a hang must be noticed quickly
TIMEOUT = 0.3


def found_person(mocks: RunningMocks, agency: str) -> tuple[str, str]:
    """Someone the agency holds a record for, so every step of its protocol would run."""
    for name, id_number in SAMPLE:
        truth = mocks.truth(agency, id_number, case_number=REQUESTER.case_number)
        if id_number[:2] != "91" and truth is not None:
            return name, id_number
    raise AssertionError(f"no one in the sample is known to {agency}")


def assert_clean(error: AgencyError, name: str, id_number: str) -> None:
    texts = [str(error), error.reason, str(error.__cause__ or "")]
    for text in texts:
        assert id_number not in text and name not in text, text
    assert error.agency in str(error)


@pytest.mark.parametrize("agency", AGENCIES)
@pytest.mark.parametrize("fault", sorted(EXPECTED))
async def test_fault_is_classified(
    agency: str, fault: str, connect: Connect, agency_mocks: RunningMocks
) -> None:
    name, id_number = found_person(agency_mocks, agency)
    spec = {"outage": True} if fault == "outage" else {fault: 1.0}
    agency_mocks.set_faults(agency, spec)
    # only a hang waits for the timeout (a loaded machine may take longer than it to answer)
    timeout = TIMEOUT if fault == "hang" else 10.0
    with pytest.raises(AgencyError) as caught:
        await connect(agency, timeout=timeout).query([subject(name, id_number)], REQUESTER)
    assert type(caught.value) is EXPECTED[fault]
    assert caught.value.transient is (fault != "400")  # a refusal is for good
    if fault == "429":
        assert caught.value.retry_after == 1.0
    assert_clean(caught.value, name, id_number)
    # aiohttp itself retries an idempotent GET once when a kept-alive connection is reset.
    assert set(agency_mocks.stats(agency)["faults"]) == {fault}


@pytest.mark.parametrize("agency", AGENCIES)
async def test_missing_lawful_basis_is_rejected(
    agency: str, connect: Connect, agency_mocks: RunningMocks
) -> None:
    name, id_number = found_person(agency_mocks, agency)
    nobody = Requester(officer="", team="t", case_number="", batch_id="b")
    with pytest.raises(AgencyRejected) as caught:
        await connect(agency).query([subject(name, id_number)], nobody)
    assert not caught.value.transient
    assert_clean(caught.value, name, id_number)
    stats = agency_mocks.stats(agency)
    assert stats["missing_requester"] == 1 and stats["by_officer"] == {}


@pytest.mark.parametrize("agency", AGENCIES)
async def test_mixed_faults_give_truth_or_agency_error(
    agency: str, connect: Connect, agency_mocks: RunningMocks
) -> None:
    """Faults strike any step (photo, poll, page): the answer is right or an AgencyError."""
    faults = {k: 0.04 for k in ("500", "503", "429", "reset", "truncate", "malformed")}
    agency_mocks.set_faults(agency, {**faults, "content_type": 0.04, "hang": 0.01})
    connector = connect(agency, timeout=TIMEOUT)
    outcomes = {"right": 0, "error": 0}
    for name, id_number in SAMPLE[:40]:
        try:
            [answer] = await connector.query([subject(name, id_number)], REQUESTER)
        except AgencyError as error:
            assert_clean(error, name, id_number)
            outcomes["error"] += 1
            continue
        truth = agency_mocks.truth(agency, id_number, case_number=REQUESTER.case_number)
        assert answer.to_json() == truth
        outcomes["right"] += 1
    assert outcomes["right"] > 0
    if agency not in ("forestry",):  # forestry answers few, one request each: errors are rarer
        assert outcomes["error"] > 0
