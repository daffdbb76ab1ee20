"""The settings of control actions and the 终本 schedule, declared apart from the rest of the
table (``Settings`` inherits them; the README's table lists them with the others).

Terms (期限) follow the Supreme People's Court's rules on sealing, seizing and freezing in
civil enforcement (as amended 2020, art. 27) and the civil-procedure interpretation (art. 485
of the 2022 version): funds at most one year, movables two, real estate and other property
rights three; a renewal may not exceed the same term. The re-query schedule follows the
SPC's 2016 rules on closing a round of enforcement (终本): at least every six months for
five years.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings

#: what a hold's term is bounded by: funds (a subsidy account), movables (a vehicle),
#: property rights (real estate, forest rights)
TermKind = Literal["funds", "movables", "property"]


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it has no such day)."""
    years, month = divmod(day.month - 1 + months, 12)
    year = day.year + years
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


class ControlSettings(BaseSettings):
    """Mixed into ``Settings``, which reads them (never built alone)."""

    court_name: str = Field(
        default="四平市中级人民法院",
        min_length=2,
        description="the court named on control orders sent to agencies",
    )
    term_months_funds: int = Field(
        default=12, ge=1, le=120, description="longest freeze of funds (months; SPC 2020: 1 year)"
    )
    term_months_movables: int = Field(
        default=24,
        ge=1,
        le=120,
        description="longest seal or seizure of a vehicle (months; 2 years)",
    )
    term_months_property: int = Field(
        default=36,
        ge=1,
        le=120,
        description="longest seal of real estate or a forest right (months; 3 years)",
    )
    expiry_window_days: int = Field(
        default=30, ge=0, description="a hold expiring within this many days raises a reminder"
    )
    control_seconds: float = Field(
        default=600.0,
        gt=0,
        description="how often the leader applies expiry, raises reminders and runs the "
        "终本 re-query schedule",
    )
    closure_interval_months: int = Field(
        default=6, ge=1, le=60, description="months between re-queries of a 终本 case"
    )
    closure_years: int = Field(
        default=5, ge=1, le=20, description="years a 终本 case is re-queried"
    )

    def term_limit(self, kind: TermKind, first_day: date) -> int:
        """The longest term in days of a hold (or a renewal) whose first day is
        ``first_day``: so many calendar months, as the rules count (a term of 3 years from
        1 June 2026 has 1,096 days: 2028 has a 29 February)."""
        months = {
            "funds": self.term_months_funds,
            "movables": self.term_months_movables,
            "property": self.term_months_property,
        }[kind]
        return (add_months(first_day, months) - first_day).days

    @property
    def closure_rounds(self) -> int:
        return self.closure_years * 12 // self.closure_interval_months
