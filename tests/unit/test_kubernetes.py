"""The Kubernetes manifests (deploy/k8s/): every core resource valid against the Kubernetes
schemas with unknown fields refused (kubernetes-validate --strict, for the oldest and newest
versions it knows that a court may run), set only the settings the gateway reads, drained
within the pod's grace period, and pointed at a CloudNativePG cluster whose roles and
service names they use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from connectors.registry import AGENCIES
from tests.unit.settings_read import known_settings

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
VALIDATE = Path(sys.executable).with_name("kubernetes-validate")
CORE = sorted(p for p in K8S.glob("*.yaml") if p.name != "cnpg-cluster.yaml")


def _resources() -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in K8S.glob("*.yaml"):
        for document in yaml.safe_load_all(path.read_text()):
            found[(document["kind"], document["metadata"]["name"])] = document
    return found


def _validate(*paths: Path, version: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VALIDATE), "--strict", "--kubernetes-version", version, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_core_manifest_is_valid_with_unknown_fields_refused() -> None:
    assert len(CORE) >= 7
    for version in ("1.30.0", "1.37.0"):
        validated = _validate(*CORE, version=version)
        assert validated.returncode == 0, validated.stdout + validated.stderr
        assert "WARN" not in validated.stdout + validated.stderr  # nothing went unchecked


def test_a_misspelt_field_is_refused(tmp_path: Path) -> None:
    careless = tmp_path / "deployment.yaml"
    careless.write_text((K8S / "deployment.yaml").read_text().replace("replicas: 2", "replica: 2"))
    assert _validate(careless, version="1.37.0").returncode != 0


def test_the_manifests_set_only_settings_the_gateway_reads_and_what_it_needs() -> None:
    resources = _resources()
    config = resources[("ConfigMap", "gateway")]["data"]
    secret = resources[("Secret", "gateway")]["stringData"]
    migrate = resources[("Secret", "gateway-migrate")]["stringData"]
    used = set(config) | set(secret) | set(migrate)
    assert used <= known_settings(), used - known_settings()
    assert {"GATEWAY_DATABASE_URL", "GATEWAY_DATA_KEY", "GATEWAY_DIGEST_KEY"} <= set(secret)
    assert {f"GATEWAY_AGENCY_{a.upper()}_URL" for a in AGENCIES} <= set(config)
    assert config["GATEWAY_MIGRATE_ON_START"] == "false"  # the Job migrates, as the owner
    assert set(migrate) == {"GATEWAY_DATABASE_URL"}


def test_replicas_drain_within_their_grace_period_unprivileged_and_probed() -> None:
    resources = _resources()
    pod = resources[("Deployment", "gateway")]["spec"]["template"]["spec"]
    drain = float(resources[("ConfigMap", "gateway")]["data"]["GATEWAY_DRAIN_SECONDS"])
    (container,) = pod["containers"]
    pause = float(container["lifecycle"]["preStop"]["exec"]["command"][1])
    assert pod["terminationGracePeriodSeconds"] > pause + drain
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "startupProbe" in container and "requests" in container["resources"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    job = resources[("Job", "gateway-migrate")]["spec"]["template"]["spec"]
    assert job["containers"][0]["args"] == ["migrate"]
    assert job["containers"][0]["envFrom"] == [{"secretRef": {"name": "gateway-migrate"}}]


def test_the_database_is_a_highly_available_cloudnativepg_cluster_the_secrets_point_at() -> None:
    resources = _resources()
    cluster = resources[("Cluster", "gateway-db")]
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    spec = cluster["spec"]
    assert spec["instances"] >= 3
    owner = spec["bootstrap"]["initdb"]["owner"]
    database = spec["bootstrap"]["initdb"]["database"]
    roles = {role["name"]: role for role in spec["managed"]["roles"]}
    assert roles["gateway_app"]["login"] is False  # the operator makes it; the owner cannot
    (service_role,) = [r for r in roles.values() if "gateway_app" in r.get("inRoles", [])]
    assert service_role["login"] is True and not service_role.get("superuser", False)
    rw = f"@{cluster['metadata']['name']}-rw:5432/{database}"
    secret = resources[("Secret", "gateway")]["stringData"]["GATEWAY_DATABASE_URL"]
    migrate = resources[("Secret", "gateway-migrate")]["stringData"]["GATEWAY_DATABASE_URL"]
    assert secret.startswith(f"postgresql://{service_role['name']}:") and secret.endswith(rw)
    assert migrate.startswith(f"postgresql://{owner}:") and migrate.endswith(rw)
