"""The command centre's Grafana dashboard (the wall page's views), written as JSON to
``dashboards/gateway.json`` beside this file:

    python deploy/grafana/dashboard.py          # writes it
    python deploy/grafana/dashboard.py --check  # exit 1 when the file differs

Counters and this replica's gauges are summed over replicas; the cluster-wide gauges (counted
in the database by the leader replica alone) are read with ``max``, never summed. A test
checks that the file is this script's output and that every query names a metric the gateway
exports (tests/integration/ops/test_grafana.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# Run as a script: this folder is on the path.
from panels import AGENCY, DATASOURCE, Json, panel, row, stat, steps, target, timeseries, value_text

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "dashboards" / "gateway.json"


def panels() -> list[Json]:
    out: list[Json] = []

    out.append(row("Throughput and queue", 0))
    out.append(
        timeseries(
            "Inquiries completed per minute, by agency",
            [
                target(
                    "sum by (agency) "
                    f"(rate(gateway_inquiries_completed_total{{{AGENCY}}}[$__rate_interval])) * 60",
                    "{{agency}}",
                )
            ],
            (0, 1, 12, 9),
            description="Results recorded (found, not found or failed), all replicas.",
            unit="short",
        )
    )
    out.append(
        timeseries(
            "Queue depth, by agency",
            [
                target(
                    "max by (agency, state) "
                    f'(gateway_queue_depth{{{AGENCY},state=~"queued|leased"}})',
                    "{{agency}} {{state}}",
                ),
                target(
                    f'max by (agency) (gateway_queue_depth{{{AGENCY},state="held"}})',
                    "{{agency}} held for approval",
                    ref="B",
                ),
            ],
            (12, 1, 12, 9),
            description="Unanswered inquiries: queued (to be asked), leased (being asked), "
            "held (their batch awaits a commander's approval). Cluster-wide (leader).",
            unit="short",
        )
    )
    out.append(
        panel(
            "table",
            "Waiting, late and overdue, by agency",
            [
                target(f"max by (agency) (gateway_inquiries_waiting{{{AGENCY}}})", instant=True),
                target(
                    f"max by (agency) (gateway_inquiries_late{{{AGENCY}}})", ref="B", instant=True
                ),
                target(
                    f"sum by (agency) (increase(gateway_inquiries_overdue_total{{{AGENCY}}}[24h]))",
                    ref="C",
                    instant=True,
                ),
            ],
            (0, 10, 12, 8),
            description="Waiting: asked again after a failed attempt. Late: unanswered longer "
            "than GATEWAY_WAITING_WARNING. Overdue: failed at the agency's answer deadline in "
            "the last 24 hours.",
            transformations=[
                {"id": "merge", "options": {}},
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True},
                        "renameByName": {
                            "agency": "agency",
                            "Value #A": "waiting",
                            "Value #B": "late",
                            "Value #C": "overdue (24 h)",
                        },
                    },
                },
            ],
            thresholds=steps((None, "green"), (1, "orange")),
            custom={"cellOptions": {"type": "color-text"}},
        )
    )
    out.append(
        panel(
            "bargauge",
            "Batches by status",
            [target("max by (status) (gateway_batches)", "{{status}}", instant=True)],
            (12, 10, 8, 8),
            description="Every batch ever submitted, by status. Cluster-wide (leader).",
            options={
                "orientation": "horizontal",
                "displayMode": "basic",
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            },
            thresholds=steps((None, "blue")),
        )
    )
    out.append(
        stat(
            "Detentions assisted",
            "max(gateway_detentions_assisted)",
            (20, 10, 4, 8),
            description="Police results where the station took the request for detention "
            "assistance (司法拘留协助: accepted or dispatched). Cluster-wide (leader).",
            thresholds=steps((None, "blue")),
        )
    )

    out.append(row("Agencies", 18))
    out.append(
        timeseries(
            "Error rate, by agency",
            [
                target(
                    "sum by (agency) (rate(gateway_agency_requests_total"
                    f'{{{AGENCY},outcome!="ok"}}[$__rate_interval]))\n'
                    "  / sum by (agency) (rate(gateway_agency_requests_total"
                    f"{{{AGENCY}}}[$__rate_interval]))",
                    "{{agency}}",
                )
            ],
            (0, 19, 8, 9),
            description="Share of HTTP requests to the agency that failed (every attempt), "
            "all replicas. The AgencyErrorRateHigh alert fires above 20 % for 5 minutes.",
            unit="percentunit",
            thresholds=steps((None, "green"), (0.2, "red")),
            custom={"thresholdsStyle": {"mode": "line"}},
        )
    )
    out.append(
        timeseries(
            "Median latency per request, by agency",
            [
                target(
                    "histogram_quantile(0.5, sum by (agency, le) "
                    "(rate(gateway_agency_request_seconds_bucket"
                    f"{{{AGENCY}}}[$__rate_interval])))",
                    "{{agency}}",
                )
            ],
            (8, 19, 8, 9),
            description="Median time of one HTTP request to the agency, all replicas.",
            unit="s",
        )
    )
    out.append(
        panel(
            "state-timeline",
            "Circuit breakers",
            [target(f"max by (agency) (gateway_breaker_state{{{AGENCY}}})", "{{agency}}")],
            (16, 19, 8, 9),
            description="The worst state over the replicas: closed, half-open (probing), open.",
            mappings=value_text(
                ("0", "closed", "green"), ("1", "half-open", "yellow"), ("2", "open", "red")
            ),
            options={"showValue": "never", "mergeValues": True, "rowHeight": 0.8},
        )
    )

    out.append(row("Alerts and the audit chain", 28))
    out.append(
        panel(
            "table",
            "Firing alerts",
            [
                target(
                    'sum by (alertname, severity, agency) (ALERTS{alertstate="firing"})',
                    instant=True,
                )
            ],
            (0, 29, 10, 8),
            description="Prometheus's alerts now firing (deploy/prometheus/gateway-alerts.yml).",
            transformations=[
                {"id": "organize", "options": {"excludeByName": {"Time": True, "Value": True}}}
            ],
        )
    )
    out.append(
        timeseries(
            "Risk alerts and interceptions, per hour",
            [
                target("sum by (kind) (increase(gateway_alerts_total[1h]))", "alert: {{kind}}"),
                target(
                    "sum by (reason) (increase(gateway_interceptions_total[1h]))",
                    "intercepted: {{reason}}",
                    ref="B",
                ),
            ],
            (10, 29, 8, 8),
            description="Risk alerts raised for the command centre (GET /v1/alerts) and "
            "submissions intercepted by a rule, all replicas.",
            unit="short",
            custom={"drawStyle": "bars", "fillOpacity": 60},
        )
    )
    out.append(
        stat(
            "Audit chain",
            "min(gateway_audit_chain_verified)",
            (18, 29, 6, 3),
            description="The last verification of the whole hash chain (every "
            "GATEWAY_AUDIT_VERIFY_SECONDS, on the leader).",
            mappings=value_text(("1", "intact", "green"), ("0", "BROKEN", "red")),
        )
    )
    out.append(
        stat(
            "Audit records",
            "max(gateway_audit_chain_length)",
            (18, 32, 3, 5),
            description="Records in the audit chain (the seq of its head).",
            thresholds=steps((None, "blue")),
        )
    )
    out.append(
        stat(
            "Since verified",
            "time() - max(gateway_audit_verification_timestamp_seconds)",
            (21, 32, 3, 5),
            description="Time since the last verification of the audit chain finished.",
            unit="s",
            thresholds=steps((None, "green"), (3 * 3600, "red")),
        )
    )

    out.append(row("Replicas", 37))
    out.append(
        stat(
            "Replicas up",
            'sum(up{job="gateway"})',
            (0, 38, 4, 4),
            thresholds=steps((None, "red"), (1, "green")),
        )
    )
    out.append(
        stat(
            "Leader",
            "max by (instance) (gateway_cluster_leader) == 1",
            (4, 38, 8, 4),
            description="The replica that exports the cluster-wide figures and verifies the "
            "audit chain (a PostgreSQL advisory lock).",
            legend="{{instance}}",
            text_mode="name",
            thresholds=steps((None, "green")),
        )
    )
    out.append(
        timeseries(
            "Agency requests in flight, by replica",
            [
                target(
                    f"sum by (instance) (gateway_agency_in_flight{{{AGENCY}}})",
                    "{{instance}}",
                )
            ],
            (12, 38, 12, 4),
            unit="short",
        )
    )
    out.append(row("Holds (查封、扣押、冻结)", 42))
    out.append(
        timeseries(
            "Holds in effect, by action",
            [target("max by (action) (gateway_controls_in_effect)", "{{action}}")],
            (0, 43, 12, 6),
            description="Seals, seizures and freezes in effect (the leader counts them).",
            unit="short",
        )
    )
    out.append(
        stat(
            "Expiring within the window",
            "max(gateway_controls_expiring)",
            (12, 43, 6, 6),
            description="Holds in effect whose last day is within GATEWAY_EXPIRY_WINDOW_DAYS: "
            "to be renewed or let go.",
            thresholds=steps((None, "green"), (1, "orange")),
        )
    )
    out.append(
        stat(
            "Oldest order waiting",
            "max(gateway_control_order_oldest_seconds)",
            (18, 43, 6, 6),
            description="The oldest hold, renewal or release still on its way to its agency.",
            unit="s",
            thresholds=steps((None, "green"), (3600, "red")),
        )
    )
    for i, item in enumerate(out, start=1):
        item["id"] = i
    return out


def dashboard() -> Json:
    return {
        "uid": "gateway-command-centre",
        "title": "执行查控 command centre: asset-inquiry gateway",
        "description": "The command centre's wall page (执行指挥中心): throughput, queues, "
        "agencies, batches, alerts and the audit chain. Generated by "
        "deploy/grafana/dashboard.py.",
        "tags": ["gateway", "court-enforcement"],
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "browser",
        "templating": {
            "list": [
                {
                    "name": "agency",
                    "label": "agency",
                    "type": "query",
                    "datasource": DATASOURCE,
                    "definition": "label_values(gateway_agency_requests_total, agency)",
                    "query": {
                        "query": "label_values(gateway_agency_requests_total, agency)",
                        "refId": "agencies",
                    },
                    "refresh": 2,
                    "multi": True,
                    "includeAll": True,
                    "allValue": ".*",
                    "current": {"text": "All", "value": "$__all"},
                    "sort": 1,
                }
            ]
        },
        "annotations": {"list": []},
        "panels": panels(),
    }


def render() -> str:
    return json.dumps(dashboard(), ensure_ascii=False, indent=2) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is out of date: run python {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
