"""deploy/grafana/: the dashboard is what its script generates, every query in it is valid
PromQL (promtool) and names only metrics the gateway exports (a real /metrics page), and the
provisioning files point at the datasource the panels use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Gateway, batch_body
from tests.integration.ops.metrics_page import grafana_to_promql, metric_names, scrape
from tests.integration.ops.test_metrics import lead

ROOT = Path(__file__).resolve().parents[3]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "gateway.json"
#: series Prometheus makes itself, not the gateway
PROMETHEUS_OWN = frozenset({"up", "ALERTS"})
#: the wall page's views, each a panel (by title)
VIEWS = {
    "Inquiries completed per minute, by agency",
    "Queue depth, by agency",
    "Waiting, late and overdue, by agency",
    "Error rate, by agency",
    "Median latency per request, by agency",
    "Circuit breakers",
    "Batches by status",
    "Firing alerts",
    "Audit chain",
    "Audit records",
    "Detentions assisted",
}


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def queries() -> list[str]:
    """Every PromQL query: the panels' targets and the variables' label_values()."""
    board = dashboard()
    found = [target["expr"] for panel in board["panels"] for target in panel.get("targets", [])]
    for variable in board["templating"]["list"]:
        text = variable["query"]["query"]
        assert text.startswith("label_values(") and text.endswith(")"), text
        metric, _, _label = text.removeprefix("label_values(")[:-1].partition(",")
        found.append(metric.strip())
    return found


def test_the_dashboard_is_what_its_script_generates() -> None:
    checked = subprocess.run(
        [sys.executable, str(GRAFANA / "dashboard.py"), "--check"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    titles = {panel["title"] for panel in dashboard()["panels"] if panel["type"] != "row"}
    assert titles >= VIEWS, VIEWS - titles
    ids = [panel["id"] for panel in dashboard()["panels"]]
    assert len(ids) == len(set(ids))


def test_the_provisioning_names_the_panels_datasource() -> None:
    sources = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "gateway.yml").read_text(encoding="utf-8")
    )["datasources"]
    uids = {(source["type"], source["uid"]) for source in sources}
    used = {
        (panel["datasource"]["type"], panel["datasource"]["uid"])
        for panel in dashboard()["panels"]
        if "datasource" in panel
    }
    assert used and used <= uids
    providers = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "gateway.yml").read_text(encoding="utf-8")
    )["providers"]
    assert [p["type"] for p in providers] == ["file"]


@pytest.mark.timeout(900)  # promtool may first have to be installed
def test_every_query_is_valid_promql(promtool: str, tmp_path: Path) -> None:
    # A recording rule per query: promtool parses each expression (YAML holds JSON).
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query{i}", "expr": grafana_to_promql(expr)}
                    for i, expr in enumerate(queries())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(json.dumps(rules), encoding="utf-8")
    checked = subprocess.run(
        [promtool, "check", "rules", str(path)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_every_query_names_a_metric_the_gateway_exports(gateway: Gateway) -> None:
    done = await gateway.submit(batch_body(n=3, seed=6))
    await gateway.wait_finished(done["id"])
    await lead(gateway)
    exported = (await scrape(gateway)).names
    for expr in queries():
        names = metric_names(grafana_to_promql(expr))
        assert names, f"no metric in {expr!r}"
        assert names - exported - PROMETHEUS_OWN == set(), expr


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (agency) (rate(gateway_a_total{o!="ok",x=~"a|b"}[5m])) / 60', {"gateway_a_total"}),
        ("max by (a) (gateway_b offset 5m) > bool 1e3 unless on (a) up", {"gateway_b", "up"}),
        ("histogram_quantile(0.5, sum by (le) (rate(gateway_c_bucket[1m])))", {"gateway_c_bucket"}),
        ('time() - max(gateway_d{s="sum(x)"}) > 3 * 3600', {"gateway_d"}),
    ],
)  # fmt: skip
def test_metric_names_are_read_out_of_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names
