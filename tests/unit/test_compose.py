"""The compose set-up (deploy/compose.yaml): valid against the Compose Specification's own
schema (vendored in tests/fixtures/schemas/compose-spec.json, from github.com/compose-spec/
compose-spec, Apache-2.0), unknown keys refused; the migration runs as the owner, two replicas
as the least-privileged login, and only settings the gateway reads are set."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from connectors.registry import AGENCIES
from mocks import __main__ as mocks_main
from mocks.faults import AgencyControl, ConfigError
from mocks.server import start_mock
from tests.unit.settings_read import known_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"
SCHEMA = json.loads((ROOT / "tests" / "fixtures" / "schemas" / "compose-spec.json").read_text())


def _errors(document: Any) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [error.message for error in validator.iter_errors(document)]


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def test_the_compose_file_is_valid_against_the_compose_specification() -> None:
    assert _errors(_compose()) == []


def test_a_misspelt_key_is_refused() -> None:
    careless = yaml.safe_load(COMPOSE.read_text().replace("stop_grace_period:", "stop_grace:"))
    assert _errors(careless)


def test_replicas_log_in_least_privileged_and_the_owner_migrates() -> None:
    services = _compose()["services"]
    replicas = [s for name, s in services.items() if name.startswith("gateway-")]
    assert len(replicas) == 2
    for replica in replicas:
        environment = replica["environment"]
        assert environment["GATEWAY_DATABASE_URL"].startswith("postgresql://gateway_service:")
        assert environment["GATEWAY_MIGRATE_ON_START"] == "false"
        assert {f"GATEWAY_AGENCY_{a.upper()}_URL" for a in AGENCIES} <= set(environment)
        assert replica["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    migrate = services["migrate"]
    assert migrate["command"] == ["migrate"]
    assert migrate["environment"]["GATEWAY_DATABASE_URL"].startswith("postgresql://gateway_owner:")
    roles = (ROOT / "deploy" / "compose" / "roles.sql").read_text()
    assert "CREATE ROLE gateway_app NOLOGIN" in roles and "IN ROLE gateway_app" in roles


def test_compose_sets_only_settings_the_gateway_reads() -> None:
    used: set[str] = set()
    for service in _compose()["services"].values():
        used |= {k for k in service.get("environment", {}) if k.startswith("GATEWAY_")}
    example = (ROOT / "deploy" / "compose" / "gateway.env.example").read_text()
    used |= {line.split("=")[0] for line in example.splitlines() if line.startswith("GATEWAY_")}
    assert used and used <= known_settings(), used - known_settings()


#: what compose has the stand-ins listen on; nothing here ever listens there
EVERY_INTERFACE = "0.0.0.0"  # noqa: S104


def test_the_stand_ins_listen_on_the_compose_network_only_when_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    command = _compose()["services"]["agencies"]["command"]
    monkeypatch.setattr(sys, "argv", ["python -m mocks", *command])
    args = mocks_main.arguments()
    assert (args.host, args.any_host) == (EVERY_INTERFACE, True)
    # without the flag, an address beyond loopback is refused before anything listens
    control = AgencyControl("household")
    with pytest.raises(ConfigError, match="--any-host"):
        asyncio.run(start_mock(control, EVERY_INTERFACE, 0))
