"""An officer's command (`gateway status`, `submit` ...) starts without loading the server:
the command line imports a command's module only when that command runs."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import sys
from gateway.cli.main import _parser
_parser({command!r})
heavy = ("gateway.http.app", "gateway.store.db", "asyncpg", "openpyxl", "gateway.cli.report")
print(",".join(name for name in heavy if name in sys.modules))
"""


def _loaded(command: str | None) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(command=command)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return set(out.split(",")) - {""}


def test_an_officers_command_loads_no_server_module() -> None:
    for command in ("status", "submit", "results"):
        assert _loaded(command) == set(), command


def test_help_loads_every_command() -> None:
    assert "gateway.cli.report" in _loaded(None)
