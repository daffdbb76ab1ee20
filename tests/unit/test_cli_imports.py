"""An officer's command (`gateway status`, `submit` ...) starts without loading the server:
the command line imports a command's module only when that command runs."""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys

import uvloop

from gateway.cli.main import _parser, collect_less, event_loop_factory
from tests.conftest import ROOT

PROBE = """
import sys
from gateway.cli.main import _parser, event_loop_factory
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


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(action.choices)


def test_every_command_parses_when_named_first() -> None:
    everything = _commands(_parser(None))
    assert {"serve", "status", "purge", "token", "report"} <= everything
    for command in everything:
        assert command in _commands(_parser(command)), command


def test_the_event_loop_is_the_one_gateway_event_loop_names() -> None:
    assert event_loop_factory("uvloop") is uvloop.new_event_loop
    assert event_loop_factory("asyncio") is None  # asyncio's own


def test_the_server_collects_less_often_with_what_start_up_built_frozen() -> None:
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    try:
        collect_less(0)  # GATEWAY_GC_THRESHOLD=0: Python's own
        assert gc.get_threshold() == threshold and gc.get_freeze_count() == frozen
        collect_less(12_345)
        assert gc.get_threshold() == (12_345, threshold[1], threshold[2])
        assert gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
