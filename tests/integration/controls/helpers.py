"""Shared by the control-action tests: a debtor with assets at every asset agency, a batch
that found them, a clock the test moves, and senders the test runs one round at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, time, timedelta
from typing import Any

import aiohttp

from connectors.controls import ControlClient
from gateway.accountability.calendar import ControlCalendar
from gateway.http.keys import CIPHER, CONTROLS, METRICS, POOL
from gateway.worker.control_sender import ControlSender
from mocks.people import sample_ids
from tests.conftest import CASE, Gateway
from tests.integration.accountability.helpers import SHANGHAI, Clock, auth

ASSET_AGENCIES = ("realestate", "vehicle", "forestry", "subsidy")
#: where each agency's record names its assets (the connectors' documented fields)
ASSET_AT = {
    "realestate": ("properties", "certificate_number"),
    "vehicle": ("vehicles", "plate"),
    "forestry": ("certificates", "certificate_number"),
    "subsidy": ("payments", "account"),
}


def first_of_june() -> Clock:
    return Clock(datetime.combine(date(2026, 6, 1), time(10, 0), SHANGHAI))


def assets_of(mocks: Any, agency: str, id_number: str) -> list[str]:
    """The asset identifiers the stand-in holds for a person (its own truth, not the gateway)."""
    record = mocks.truth(agency, id_number)
    if record is None:
        return []
    listed, field = ASSET_AT[agency]
    return list(dict.fromkeys(entry[field] for entry in record[listed]))


def debtor_with_assets(
    mocks: Any, agencies: tuple[str, ...] = ASSET_AGENCIES, skip: int = 0
) -> tuple[str, str]:
    """A person whom every agency in ``agencies`` holds at least one asset of (after
    ``skip`` such people)."""
    for name, number in sample_ids(3000, seed=7, organisations=0.0):
        if all(assets_of(mocks, agency, number) for agency in agencies):
            if skip == 0:
                return name, number
            skip -= 1
    raise AssertionError("no such person among the sample")


async def file_case(
    gateway: Gateway, amount: str | None = None, case: str = CASE, team: str = "team-a"
) -> None:
    await gateway.token("officer", team)  # creates the team
    body: dict[str, Any] = {"case_number": case, "team": team}
    if amount is not None:
        body["amount_to_enforce"] = amount
    response = await gateway.client.post(
        "/v1/cases", json=body, headers=await auth(gateway, "admin")
    )
    assert response.status in (200, 201), await response.text()


async def found_batch(
    gateway: Gateway, debtor: tuple[str, str], agencies: tuple[str, ...] = ASSET_AGENCIES,
    case: str = CASE,
) -> str:  # fmt: skip
    body = {
        "case_number": case,
        "reason": "查询被执行人财产线索",
        "agencies": list(agencies),
        "subjects": [{"name": debtor[0], "id_number": debtor[1]}],
    }
    batch = await gateway.submit(body)
    await gateway.wait_finished(batch["id"])
    return batch["id"]


async def found_asset(
    gateway: Gateway, mocks: Any, agency: str
) -> tuple[tuple[str, str], str, str]:
    """A debtor with an asset at ``agency``, a batch that found it, and the asset's identifier
    (the stand-in's own): (debtor, batch id, asset)."""
    debtor = debtor_with_assets(mocks, (agency,))
    batch_id = await found_batch(gateway, debtor, (agency,))
    return debtor, batch_id, assets_of(mocks, agency, debtor[1])[0]


async def ask(
    gateway: Gateway, batch_id: str, agency: str, asset: str, action: str, *,
    role: str = "officer", team: str | None = "team-a", **extra: Any,
) -> aiohttp.ClientResponse:  # fmt: skip
    body = {
        "batch_id": batch_id, "row": extra.pop("row", 0), "agency": agency, "asset": asset,
        "action": action,
        "reason": "被执行人未履行生效判决，依法控制其财产", **extra,
    }  # fmt: skip
    return await gateway.client.post(
        "/v1/controls", json=body, headers=await auth(gateway, role, team)
    )


async def act(
    gateway: Gateway, control_id: int, step: str, *, role: str = "commander",
    team: str | None = None, **body: Any,
) -> aiohttp.ClientResponse:  # fmt: skip
    return await gateway.client.post(
        f"/v1/controls/{control_id}/{step}",
        json=body or None,
        headers=await auth(gateway, role, team),
    )


async def control(gateway: Gateway, control_id: int) -> dict[str, Any]:
    response = await gateway.client.get(
        f"/v1/controls/{control_id}", headers=await auth(gateway, "officer", "team-a")
    )
    assert response.status == 200, await response.text()
    return await response.json()


@asynccontextmanager
async def senders(
    gateway: Gateway, mocks: Any, count: int = 1
) -> AsyncIterator[list[ControlSender]]:
    """Senders on the gateway's database and clock, run by the test (``send_due``), each
    with its own worker id (a replica)."""
    app = gateway.client.app
    async with aiohttp.ClientSession() as session:
        made: list[ControlSender] = []
        for k in range(count):
            clients = {a: ControlClient(session, a, mocks.urls[a], 5.0) for a in ASSET_AGENCIES}
            settings = app[CONTROLS].settings.replace(worker_id=f"sender-{k}")
            made.append(
                ControlSender(
                    app[POOL], clients, settings, app[METRICS], app[CIPHER], gateway.clock
                )
            )
        yield made


def calendar(gateway: Gateway) -> ControlCalendar:
    app = gateway.client.app
    return ControlCalendar(app[CONTROLS], app[POOL])


def days(n: int) -> timedelta:
    return timedelta(days=n)
