"""deploy/prometheus/: the scrape configuration and the alert rules pass promtool, the rules'
unit tests (deploy/prometheus/tests/) pass, and every metric a rule reads is one the gateway
exports."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Gateway, batch_body
from tests.integration.ops.metrics_page import metric_names, scrape
from tests.integration.ops.test_metrics import lead

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "gateway-alerts.yml"
#: series Prometheus makes itself, not the gateway
PROMETHEUS_OWN = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})
#: what the command centre asked to be alerted about, by rule
REQUIRED_ALERTS = {
    "AgencyErrorRateHigh",
    "AgencyBreakerOpen",
    "QueueGrowing",
    "NothingCompleted",
    "InquiriesOverdue",
    "AuditVerificationFailed",
}

pytestmark = pytest.mark.timeout(900)  # promtool may first have to be installed


def run(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *args], capture_output=True, text=True, cwd=ROOT, check=False, timeout=120
    )


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_the_configuration_and_the_rules_are_valid(promtool: str) -> None:
    checked = run(promtool, "check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 1 rule files found" in checked.stdout  # gateway-alerts.yml, found
    checked = run(promtool, "check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert {rule["alert"] for rule in rules()} >= REQUIRED_ALERTS


def test_the_compose_configuration_is_valid_with_the_same_rules(
    promtool: str, tmp_path: Path
) -> None:
    # laid out as deploy/compose.yaml mounts them in the Prometheus container
    shutil.copy(PROMETHEUS.parent / "compose" / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copy(RULES, tmp_path / "gateway-alerts.yml")
    checked = run(promtool, "check", "config", str(tmp_path / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 1 rule files found" in checked.stdout


def test_the_alert_rules_unit_tests_pass(promtool: str) -> None:
    tests = sorted((PROMETHEUS / "tests").glob("*.yml"))
    assert tests
    tested = run(promtool, "test", "rules", *map(str, tests))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    # Each required alert is shown to fire in some test case.
    fired = {
        case["alertname"]
        for path in tests
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]
        for case in group.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert fired >= REQUIRED_ALERTS, REQUIRED_ALERTS - fired


async def test_every_metric_the_rules_read_is_exported(gateway: Gateway) -> None:
    done = await gateway.submit(batch_body(n=3, seed=5))
    await gateway.wait_finished(done["id"])
    await lead(gateway)
    exported = (await scrape(gateway)).names
    read = {name for rule in rules() for name in metric_names(rule["expr"])}
    assert read
    assert read - exported - PROMETHEUS_OWN == set()
