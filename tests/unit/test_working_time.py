"""The off-hours alert's working time, without a database: days, hours, the time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.accountability.alerts import WorkingTime
from gateway.core.settings import Settings
from gateway.core.working_time import parse_days, parse_hours


def working(hours: str = "08:00-18:00", days: str = "mon-fri") -> WorkingTime:
    settings = Settings.from_env({}).replace(working_hours=hours, working_days=days)
    found = WorkingTime.from_settings(settings)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("utc", "inside"),
    [
        ("2026-12-02T00:00:00", True),  # Wednesday 08:00 in Shanghai: the start is inside
        ("2026-12-01T23:59:59", False),  # Wednesday 07:59:59
        ("2026-12-02T10:00:00", False),  # Wednesday 18:00: the end is outside
        ("2026-12-05T02:00:00", False),  # Saturday 10:00
        ("2026-12-07T01:30:00", True),  # Monday 09:30
    ],
)
def test_working_time_is_local_and_half_open(utc: str, inside: bool) -> None:
    moment = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    assert working().contains(moment) is inside


def test_an_empty_working_hours_switches_the_alert_off() -> None:
    settings = Settings.from_env({}).replace(working_hours="")
    assert WorkingTime.from_settings(settings) is None


@pytest.mark.parametrize(
    ("text", "days"),
    [("mon-fri", {0, 1, 2, 3, 4}), ("mon,wed,fri", {0, 2, 4}), ("mon-tue,sun", {0, 1, 6})],
)
def test_days_are_names_and_ranges(text: str, days: set[int]) -> None:
    assert parse_days(text) == days


@pytest.mark.parametrize("text", ["fri-mon", "monday", "mon-xyz", ""])
def test_days_that_cannot_work_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="mon"):
        parse_days(text)


@pytest.mark.parametrize("text", ["18:00-08:00", "8-18", "25:00-26:00", "08:00-08:00"])
def test_hours_that_cannot_work_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hours(text)
