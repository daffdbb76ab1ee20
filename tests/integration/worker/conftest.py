"""Helpers for the resilience suite: gateways with chosen limits, breaker and budget settings,
and waiting on state held in the database (another replica's, or the dispatcher's)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from connectors.registry import AGENCIES
from gateway.core.settings import AgencySettings, Settings
from tests.conftest import Gateway

CASE = "（2022）吉03执123号"

#: the accountability rules are not under test here: switch off those that could intercept a
#: test's batches (where this checkout has them)
_RULES_OFF = {
    "require_filed_case": False,
    "quota_subjects_per_day": 0,
    "approval_threshold": 0,
    "requery_days": 0,
}

StartGateway = Callable[..., Awaitable[Gateway]]


def agencies(urls: dict[str, str], **limits: dict[str, float]) -> dict[str, AgencySettings]:
    """Default agency settings aimed at the mocks, with ``{agency: {field: value}}`` changed."""
    base = Settings.from_env({}).agencies
    result = {}
    for name in AGENCIES:
        changes: dict[str, Any] = {"url": urls[name], **limits.get(name, {})}
        result[name] = base[name].model_copy(update=changes)
    return result


@pytest.fixture
def start_gateway(gateway_factory: Any) -> StartGateway:
    """``gateway_factory`` with the accountability rules that could intercept switched off."""

    async def start(**overrides: Any) -> Gateway:
        # A faster breaker probe by default: tests don't wait 5 s.
        overrides.setdefault("breaker_probe_delay", 0.2)
        return await gateway_factory(**{**_RULES_OFF, **overrides})

    return start


def body(subjects: list[tuple[str, str]], agencies: list[str] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "case_number": CASE,
        "reason": "财产调查",
        "subjects": [{"name": n, "id_number": i} for n, i in subjects],
    }
    if agencies is not None:
        payload["agencies"] = agencies
    return payload


async def until(
    check: Callable[[], Awaitable[bool]], timeout: float = 30.0, interval: float = 0.02
) -> None:
    """Poll a condition with a deadline (state in the database or another replica)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(interval)


async def done_count(gateway: Gateway, batch_id: str, agency: str | None = None) -> int:
    async with gateway.pool.acquire() as conn:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM results WHERE batch_id = $1 AND ($2::text IS NULL "
                "OR agency = $2)",
                batch_id,
                agency,
            )
        )


def assert_equal_to_truth(results: list[dict[str, Any]], mocks: Any) -> None:
    """Every result is what the agency holds, as a fault-free run would have recorded it."""
    assert results
    for result in results:
        expected = mocks.truth(result["agency"], result["subject"]["id_number"], case_number=CASE)
        assert result["error"] is None, (result["agency"], result["error"])
        assert result["status"] == ("not_found" if expected is None else "found")
        assert result["data"] == expected, result["agency"]
