"""One agency call's record: every call is counted by outcome in the metrics; a call that
was answered is logged only at debug (under load there are a thousand a second), every
other outcome at info."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from structlog.testing import capture_logs

from connectors.base import Answer, Connector, NotFound, Requester, Subject
from connectors.errors import AgencyRejected
from gateway.core.metrics import Metrics
from gateway.worker.backoff import FullJitterBackoff
from gateway.worker.breaker import BreakerConfig, CircuitBreaker
from gateway.worker.budget import BudgetConfig, RetryBudget
from gateway.worker.calls import AgencyCaller
from gateway.worker.transport import AgencyTransport

REQUESTER = Requester("officer", "team", "（2024）吉0102执1号", "batch-1")
SUBJECT = Subject("name", "220102199001011234")


@dataclass
class Scripted(Connector):
    """Answers "not found", or refuses, as told; never touches its session."""

    name: ClassVar[str] = "forestry"
    title: ClassVar[str] = "scripted"
    record_type: ClassVar[type] = object
    refuse: bool = False

    async def query(self, subjects: Sequence[Subject], requester: Requester) -> list[Answer]:
        if self.refuse:
            raise AgencyRejected(self.name, "request refused (400)")
        return [NotFound() for _ in subjects]


def caller(connector: Connector, metrics: Metrics) -> AgencyCaller:
    backoff = FullJitterBackoff(0.2, 30.0, random.Random(1))
    transport = AgencyTransport(
        agency=connector.name,
        breaker=CircuitBreaker(BreakerConfig()),
        budget=RetryBudget(BudgetConfig()),
        backoff=backoff,
        metrics=metrics,
    )
    return AgencyCaller(
        connector=connector,
        transport=transport,
        calls=asyncio.Semaphore(1),
        metrics=metrics,
        max_attempts=1,
        backoff=backoff,
        requeue_backoff=backoff,
    )


def calls_counted(metrics: Metrics, outcome: str) -> float | None:
    return metrics.registry.get_sample_value(
        "gateway_agency_calls_total", {"agency": "forestry", "outcome": outcome}
    )


async def test_an_answered_call_is_counted_and_logged_at_debug_a_refused_one_at_info() -> None:
    metrics = Metrics()
    answered = caller(Scripted(session=None, base_url="http://127.0.0.1:9"), metrics)  # type: ignore[arg-type]
    refused = caller(
        Scripted(session=None, base_url="http://127.0.0.1:9", refuse=True),  # type: ignore[arg-type]
        metrics,
    )
    with capture_logs() as lines:
        for _ in range(2):
            result = await answered.call([SUBJECT], REQUESTER)
            assert result.answers is not None and result.error is None
        result = await refused.call([SUBJECT], REQUESTER)
        assert result.answers is None and result.error == "forestry: request refused (400)"

    levels = [
        (line["outcome"], line["log_level"]) for line in lines if line["event"] == "agency_call"
    ]
    assert levels == [("ok", "debug"), ("ok", "debug"), ("AgencyRejected", "info")]
    assert calls_counted(metrics, "ok") == 2
    assert calls_counted(metrics, "AgencyRejected") == 1
