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

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings

#: what a hold's term is bounded by: funds (a subsidy account), movables (a vehicle),
#: property rights (real estate, forest rights)
TermKind = Literal["funds", "movables", "property"]


class ControlSettings(BaseSettings):
    """Mixed into ``Settings``, which reads them (never built alone)."""

    court_name: str = Field(
        default="四平市中级人民法院",
        min_length=2,
        description="the court named on control orders sent to agencies",
    )
    term_days_funds: int = Field(
        default=365, ge=1, description="longest freeze of funds (days; SPC 2020: 1 year)"
    )
    term_days_movables: int = Field(
        default=730, ge=1, description="longest seal or seizure of a vehicle (days; 2 years)"
    )
    term_days_property: int = Field(
        default=1095,
        ge=1,
        description="longest seal of real estate or a forest right (days; 3 years)",
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

    def term_limit(self, kind: TermKind) -> int:
        return {
            "funds": self.term_days_funds,
            "movables": self.term_days_movables,
            "property": self.term_days_property,
        }[kind]

    @property
    def closure_rounds(self) -> int:
        return self.closure_years * 12 // self.closure_interval_months
