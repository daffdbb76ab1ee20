"""Where the settings come from: ``GATEWAY_<FIELD>`` and ``GATEWAY_AGENCY_<NAME>_<FIELD>``
variables read from a mapping (the process environment, or a test's own), and a refused
value described by its variable (``describe``). The table itself is ``settings.py``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

PREFIX = "GATEWAY_"
AGENCY_PREFIX = "GATEWAY_AGENCY_"


def variable(field: str) -> str:
    return PREFIX + field.upper()


def agency_variable(agency: str, field: str) -> str:
    return f"{AGENCY_PREFIX}{agency.upper()}_{field.upper()}"


class GatewayEnvironment(PydanticBaseSettingsSource):
    """``GATEWAY_<FIELD>`` and ``GATEWAY_AGENCY_<NAME>_<FIELD>`` from a mapping of variables.

    ``agency_defaults`` are the agencies' settings before any variable (their model's fields
    are the ``<FIELD>`` read per agency); given, not imported, as their model is declared
    beside the settings that read this module."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        environ: Mapping[str, str],
        agency_defaults: Mapping[str, BaseModel],
    ) -> None:
        super().__init__(settings_cls)
        self.environ = environ
        self.agency_defaults = agency_defaults

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        value = self.environ.get(variable(field_name))
        return value, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            if name == "agencies":
                continue
            value, _, _ = self.get_field_value(field, name)
            if value is not None:
                values[name] = value
        agencies: dict[str, dict[str, Any]] = {}
        for agency, default in self.agency_defaults.items():
            entry: dict[str, Any] = default.model_dump()
            entry["name"] = agency
            for name in type(default).model_fields:
                value = self.environ.get(agency_variable(agency, name))
                if value is not None and name != "name":
                    entry[name] = value
            agencies[agency] = entry
        values["agencies"] = agencies
        return values


def describe(exc: ValidationError) -> str:
    """A validation error as ``bad GATEWAY_* setting: GATEWAY_X must ...``, naming variables
    and never repeating a value (a key or a URL with a password may be one)."""
    problems: list[str] = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = [str(part) for part in error["loc"]]
        if len(loc) >= 3 and loc[0] == "agencies":
            name = agency_variable(loc[1], loc[2])
        else:
            name = variable(loc[0]) if loc else "GATEWAY_*"
        message = str(error["msg"]).removeprefix("Value error, ").replace("Input should", "must")
        problems.append(f"{name} {message[:1].lower()}{message[1:]}")
    return "bad GATEWAY_* setting: " + "; ".join(problems)
