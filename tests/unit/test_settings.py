"""Settings that parse but cannot work are refused at start-up, naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.core import settings_doc
from gateway.core.errors import ConfigurationError
from gateway.core.settings import Settings, variable


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GATEWAY_AGENCY_HOUSEHOLD_URL", ""),
        ("GATEWAY_AGENCY_POLICE_URL", "ftp://police.example"),
        ("GATEWAY_AGENCY_VEHICLE_URL", "vehicle.example:8080"),
        ("GATEWAY_AGENCY_VEHICLE_URL", "http://"),
        ("GATEWAY_AGENCY_SUBSIDY_URL", "http://subsidy.example:99999"),
        ("GATEWAY_AGENCY_FORESTRY_MAX_IN_FLIGHT", "0"),
        ("GATEWAY_AGENCY_FORESTRY_MAX_IN_FLIGHT", "-3"),
        ("GATEWAY_AGENCY_REALESTATE_MAX_RPS", "-1"),
        ("GATEWAY_AGENCY_REALESTATE_MAX_RPS", "nan"),
        ("GATEWAY_AGENCY_HOUSEHOLD_TIMEOUT", "0"),
        ("GATEWAY_AGENCY_HOUSEHOLD_TIMEOUT", "-5"),
        ("GATEWAY_AGENCY_HOUSEHOLD_TIMEOUT", "inf"),
        ("GATEWAY_LEASE_SECONDS", "0"),
        ("GATEWAY_FLUSH_SIZE", "0"),
        ("GATEWAY_FLUSH_SECONDS", "-0.1"),
        ("GATEWAY_CLAIM_CHUNK", "0"),
        ("GATEWAY_POLL_SECONDS", "0"),
        ("GATEWAY_MAX_ATTEMPTS", "0"),
        ("GATEWAY_MAX_SUBJECTS", "0"),
        ("GATEWAY_MAX_BODY_BYTES", "-1"),
        ("GATEWAY_BACKOFF_CAP", "-1"),
        ("GATEWAY_PORT", "70000"),
    ],
)
def test_a_setting_that_cannot_work_is_refused_by_name(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_env({variable: value})


def test_working_settings_are_accepted() -> None:
    settings = Settings.from_env(
        {
            "GATEWAY_AGENCY_HOUSEHOLD_URL": "https://household.gov.example/api",
            "GATEWAY_AGENCY_POLICE_URL": "http://10.0.0.7:8080",
            "GATEWAY_AGENCY_REALESTATE_MAX_RPS": "0",  # 0: no limit
            "GATEWAY_AGENCY_VEHICLE_MAX_IN_FLIGHT": "1",
            "GATEWAY_MAX_SUBJECTS": "1",
            "GATEWAY_PORT": "0",
        }
    )
    assert settings.agencies["household"].url == "https://household.gov.example/api"
    assert settings.agencies["realestate"].max_rps == 0
    assert Settings.from_env({}).max_subjects == 100_000


def test_the_readme_configuration_table_is_generated_from_the_declaration() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert settings_doc.section(readme) == settings_doc.markdown(), (
        "README.md's configuration table is stale: "
        "python -m gateway.core.settings_doc --write README.md"
    )


def test_every_declared_setting_is_read_from_its_variable() -> None:
    changed = {
        variable("max_subjects"): "7",
        variable("breaker_probe_delay"): "1.5",
        variable("require_filed_case"): "false",
        "GATEWAY_AGENCY_FORESTRY_MAX_RPS": "2.5",
        "GATEWAY_AGENCY_POLICE_MAX_ATTEMPTS": "9",
    }
    settings = Settings.from_env(changed)
    assert settings.max_subjects == 7
    assert settings.breaker_probe_delay == 1.5
    assert settings.require_filed_case is False
    assert settings.agencies["forestry"].max_rps == 2.5
    assert settings.agency_max_attempts("police") == 9
    assert settings.agency_max_attempts("household") == settings.max_attempts
