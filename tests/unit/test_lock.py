"""Installs are reproducible: uv.lock pins every dependency that pyproject.toml declares, so
`make` (``uv sync --frozen``) installs exactly what was tested. A dependency added to
pyproject.toml without `make lock` fails here, not on a fresh machine later."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    assert Path(found).exists(), "uv is missing: `make` installs it into .tools/"
    return found


def test_the_lock_file_matches_the_declared_dependencies() -> None:
    checked = subprocess.run(
        [_uv(), "lock", "--check", "--offline", "--python", "python3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


def test_the_makefile_installs_from_the_lock_only() -> None:
    lines = (ROOT / "Makefile").read_text().splitlines()
    assert any("sync --frozen" in line for line in lines)
    # pip installs uv itself, and nothing else
    assert [
        line.split("pip install")[1].split()[-1] for line in lines if "pip install" in line
    ] == ["uv==$(UV_VERSION)"]
