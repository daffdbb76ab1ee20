"""Control actions on the wire: the recorded fixtures, hostile answers, the state directory.

``tests/fixtures/controls/<case>.json`` holds one stand-in's exchanges in order, each with
the ``ControlAnswer`` the client must make of it (or the refusal code it must raise). They are
checked both ways, as the inquiry fixtures are: a fresh stand-in asked the requests answers
exactly the responses, and the client, talking to a scripted agency that plays them back,
sends exactly the requests and makes exactly the answers.
"""

from __future__ import annotations

import json
import sys
import uuid
from dataclasses import asdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connectors.base import Subject
from connectors.controls import ControlAnswer, ControlClient, HoldOrder
from connectors.errors import AgencyBadAnswer, AgencyRateLimited, AgencyRejected, ControlRefused
from mocks import __main__ as mocks_main
from mocks.faults import AgencyControl
from mocks.server import start_mock
from tests.integration.connectors.conftest import answer, fake_agency, raw
from tests.integration.connectors.wire_fixtures import (
    FIXTURES,
    REQUESTER,
    Body,
    Case,
    Exchange,
    scripted_agency,
    strict_json,
)

CASES = sorted((FIXTURES / "controls").glob("*.json"))
SIPING = "四平市中级人民法院"
#: a flat the fixture organisation holds at the registry (tests/fixtures/controls)
ORG = Subject("四平市华信农业发展有限公司", "91220303Q4L85PEHNF", "organisation")
FLAT = "吉(2021)四平市不动产权第5122125号"


def load(path: Path) -> tuple[str, list[dict[str, Any]]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert set(doc) == {"about", "agency", "exchanges"}, path
    return doc["agency"], doc["exchanges"]


def hold_order(body: dict[str, Any]) -> HoldOrder:
    amount = body["amount"]
    return HoldOrder(
        idempotency_key=body["idempotency_key"],
        court=body["court"],
        case_number=body["case_number"],
        action=body["action"],
        subject=Subject(**body["subject"]),
        asset=body["asset"],
        term_days=body["term_days"],
        amount=None if amount is None else Decimal(amount),
        order_date=date.fromisoformat(body["order_date"]),
    )


async def call(client: ControlClient, request: dict[str, Any]) -> ControlAnswer:
    """The client call that sends ``request``."""
    body = request.get("json", {})
    path, _, query = request["path"].partition("?")
    parts = path.split("/")
    if path == "/v1/controls":
        return await client.hold(hold_order(body), REQUESTER)
    day = date.fromisoformat(body["order_date"]) if body else None
    if request["method"] == "GET":
        on = date.fromisoformat(query.removeprefix("on=")) if query else None
        return await client.status(parts[3], REQUESTER, on)
    if parts[4] == "renew":
        assert day is not None
        return await client.renew(
            parts[3], body["idempotency_key"], body["term_days"], day, REQUESTER
        )
    assert parts[4] == "release" and day is not None
    return await client.release(parts[3], body["idempotency_key"], day, REQUESTER)


def outcome(result: ControlAnswer | ControlRefused) -> dict[str, Any]:
    if isinstance(result, ControlRefused):
        return {"refused": result.code}
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in asdict(result).items()}


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
async def test_stand_in_answers_the_fixture(path: Path, http: aiohttp.ClientSession) -> None:
    agency, exchanges = load(path)
    server = await start_mock(AgencyControl(agency))
    try:
        for exchange in exchanges:
            request, response = exchange["request"], exchange["response"]
            status, body = await raw(
                http, request["method"], server.url + request["path"], json=request.get("json")
            )
            where = f"{request['method']} {request['path']}"
            assert status == response["status"], where
            assert strict_json(body) == strict_json(response["json"]), where
    finally:
        await server.runner.cleanup()


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
async def test_client_against_the_fixture(path: Path, http: aiohttp.ClientSession) -> None:
    agency, exchanges = load(path)
    played = [
        Exchange(
            method=e["request"]["method"],
            path=e["request"]["path"],
            request=Body("json", e["request"]["json"]) if "json" in e["request"] else Body("none"),
            status=e["response"]["status"],
            response=Body("json", e["response"]["json"]),
        )
        for e in exchanges
    ]
    case = Case(agency, path.stem, "", True, [], played, None, None)
    async with scripted_agency(case) as (url, playback):
        client = ControlClient(http, agency, url, timeout=5.0)
        for exchange in exchanges:
            try:
                result: ControlAnswer | ControlRefused = await call(client, exchange["request"])
            except ControlRefused as exc:
                result = exc
            assert outcome(result) == exchange["answer"], exchange["request"]["path"]
    assert playback.unexpected == [] and playback.unused == []


def test_the_state_directory_from_the_command_line_or_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "argv", ["python -m mocks", "--state-dir", str(tmp_path)])
    assert mocks_main.arguments().state_dir == tmp_path
    monkeypatch.setenv("MOCKS_STATE_DIR", str(tmp_path / "env"))
    monkeypatch.setattr(sys, "argv", ["python -m mocks"])
    assert mocks_main.arguments().state_dir == tmp_path / "env"
    monkeypatch.delenv("MOCKS_STATE_DIR")
    assert mocks_main.arguments().state_dir is None


HOLD = {"receipt_no": "BDCKZ-000001", "state": "in_effect", "position": None,
        "effective_on": "2026-12-03", "expires_on": "2029-12-01"}  # fmt: skip


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (200, {**HOLD, "state": "frozen"}, AgencyBadAnswer),
        (200, {**HOLD, "state": "released"}, AgencyBadAnswer),  # not an answer to a hold
        (200, {**HOLD, "expires_on": None}, AgencyBadAnswer),
        (200, {**HOLD, "state": "queued", "position": None}, AgencyBadAnswer),
        (200, {**HOLD, "effective_on": "2026-02-30"}, AgencyBadAnswer),
        (200, [HOLD], AgencyBadAnswer),
        (422, {"refused": "no code"}, AgencyRejected),
        (404, {"error": "Not Found"}, AgencyRejected),
        (422, {"code": "Free text, not a code", "refused": "x"}, AgencyRejected),
        (429, {"error": "too many requests"}, AgencyRateLimited),
    ],
)
async def test_hostile_answers(
    status: int, body: Any, error: type[Exception], http: aiohttp.ClientSession
) -> None:
    order = HoldOrder(
        str(uuid.uuid4()), SIPING, REQUESTER.case_number, "seal", ORG, FLAT, 1095, None,
        date(2026, 12, 3),
    )  # fmt: skip
    async with fake_agency([("POST", "/v1/controls", answer(body, status=status))]) as url:
        with pytest.raises(error) as raised:
            await ControlClient(http, "realestate", url, timeout=5.0).hold(order, REQUESTER)
    assert not isinstance(raised.value, ControlRefused)


async def test_a_refusal_keeps_no_identifier_and_a_renewal_checks_its_receipt(
    http: aiohttp.ClientSession,
) -> None:
    refusal = {
        "code": "unknown_asset",
        "refused": "账户6288664090507754594不属于220381197312097882",
    }
    other = {"receipt_no": "BDCKZ-000009", "state": "in_effect", "effective_on": "2026-12-03",
             "expires_on": "2030-12-01"}  # fmt: skip
    routes = [
        ("POST", "/v1/controls", answer(refusal, status=422)),
        ("POST", "/v1/controls/BDCKZ-000001/renew", answer(other)),
    ]
    async with fake_agency(routes) as url:
        client = ControlClient(http, "subsidy", url, timeout=5.0)
        order = HoldOrder(
            str(uuid.uuid4()), SIPING, REQUESTER.case_number, "freeze", ORG, "x", 365,
            Decimal("1"), date(2026, 12, 3),
        )  # fmt: skip
        with pytest.raises(ControlRefused) as refused:
            await client.hold(order, REQUESTER)
        assert (refused.value.code, refused.value.reason) == ("unknown_asset", "账户…不属于…")
        assert "6288664090507754594" not in str(refused.value)
        with pytest.raises(AgencyBadAnswer, match="receipt_no"):
            await client.renew("BDCKZ-000001", str(uuid.uuid4()), 365, date(2029, 1, 1), REQUESTER)
    with pytest.raises(ValueError, match="takes no control actions"):
        ControlClient(http, "household", url, timeout=5.0)
