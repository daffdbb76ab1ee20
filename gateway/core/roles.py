"""The four roles a person may have (migration 0001 checks the same list)."""

from __future__ import annotations

from typing import Literal

Role = Literal["officer", "commander", "auditor", "admin"]
ROLES: tuple[Role, ...] = ("officer", "commander", "auditor", "admin")
