"""The hand-written wire fixtures in ``tests/fixtures``, checked three ways.

1. The connector, talking to a scripted agency that plays the fixture back on loopback, sends
   exactly the fixture's requests and makes exactly ``expected.json`` of the answers (or raises
   the fixture's error).
2. The stand-in agency, asked the fixture's requests, answers exactly the fixture's responses:
   the fixtures are what the mocks really say, not invented (cases marked ``stand_in``).
3. ``mocks.truth``, the tests' independent translation, agrees with ``expected.json``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

import aiohttp
import pytest

from connectors.errors import AgencyError
from connectors.registry import AGENCIES, connector_classes
from mocks.faults import AgencyControl
from mocks.population import truth
from mocks.server import MockServer, start_mock
from tests.integration.connectors.wire_fixtures import (
    CONTENT_TYPES,
    FIXTURES,
    REQUESTER,
    Case,
    all_cases,
    scripted_agency,
    strict_json,
)

CASES = all_cases()
STAND_IN = [case for case in CASES if case.stand_in]


def ids(cases: list[Case]) -> list[str]:
    return [case.id for case in cases]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
async def test_connector_against_the_fixture(case: Case, http: aiohttp.ClientSession) -> None:
    async with scripted_agency(case) as (url, playback):
        connector = connector_classes()[case.agency](session=http, base_url=url, timeout=5.0)
        try:
            answers = await connector.query(case.subjects, case.requester)
            outcome: list[object] | AgencyError = [answer.to_json() for answer in answers]
        except AgencyError as exc:
            outcome = exc
    assert playback.unexpected == [], "the connector sent requests the fixture does not hold"
    assert playback.unused == [], "the connector did not send all of the fixture's requests"
    if case.error is not None:
        assert isinstance(outcome, AgencyError), f"expected {case.error['error']}, got a record"
        assert type(outcome).__name__ == case.error["error"]
        assert str(outcome) == case.error["message"]
    else:
        assert not isinstance(outcome, AgencyError), f"the connector raised {outcome!r}"
        assert outcome == case.expected
        assert strict_json(outcome) == strict_json(case.expected)  # 80.0 is not 80


@asynccontextmanager
async def fresh_stand_in(agency: str) -> AsyncGenerator[MockServer, None]:
    """A stand-in just started, so its first ticket is BDC0000000001."""
    server = await start_mock(AgencyControl(agency))
    try:
        yield server
    finally:
        await server.runner.cleanup()


@pytest.mark.parametrize("case", STAND_IN, ids=ids(STAND_IN))
async def test_stand_in_answers_the_fixture(case: Case, http: aiohttp.ClientSession) -> None:
    async with fresh_stand_in(case.agency) as stand_in:
        for exchange in case.exchanges:
            headers = dict(REQUESTER.headers())
            if exchange.request.kind != "none":
                headers["Content-Type"] = CONTENT_TYPES[exchange.request.kind]
            async with http.request(
                exchange.method,
                stand_in.url + exchange.path,
                data=exchange.request.encoded(),
                headers=headers,
            ) as resp:
                body = await resp.read()
                where = f"{exchange.method} {exchange.path}"
                assert resp.status == exchange.status, where
                assert resp.content_type == CONTENT_TYPES[exchange.response.kind], where
                assert exchange.response.matches(body), f"{where}: the stand-in said {body!r}"


@pytest.mark.parametrize("case", STAND_IN, ids=ids(STAND_IN))
def test_truth_agrees_with_the_fixture(case: Case) -> None:
    found = [
        truth(case.agency, s.id_number, s.kind, case_number=REQUESTER.case_number, items=case.items)
        for s in case.subjects
    ]
    assert strict_json(found) == strict_json(case.expected)


def test_every_agency_has_rich_found_not_found_and_bad_answer_cases() -> None:
    kinds: Counter[tuple[str, str]] = Counter()
    for case in CASES:
        if case.error is not None:
            kinds[case.agency, "bad answer"] += 1
        elif case.expected is not None and any(case.expected):
            kinds[case.agency, "found"] += 1
        else:
            kinds[case.agency, "not found"] += 1
    for agency in AGENCIES:
        for kind in ("found", "not found", "bad answer"):
            assert kinds[agency, kind] >= 1, f"{agency} has no {kind} fixture"
        assert sum(c.stand_in for c in STAND_IN if c.agency == agency) >= 3, agency


def test_every_fixture_file_is_used_and_every_case_listed() -> None:
    """No stray bodies: each file in a case directory is named by its exchanges.json."""
    readme = (FIXTURES / "README.md").read_text(encoding="utf-8")
    for case in CASES:
        assert case.name in readme, f"tests/fixtures/README.md does not list {case.id}"
        directory = FIXTURES / case.agency / case.name
        named = {"exchanges.json", "expected.json", "error.json"}
        text = (directory / "exchanges.json").read_text(encoding="utf-8")
        for path in directory.iterdir():
            assert path.name in named or f'"{path.name}"' in text, f"{path} is not used"
