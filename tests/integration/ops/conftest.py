"""Fixtures of the operations tests: promtool, installed when missing (tests/system_packages)."""

from __future__ import annotations

import pytest

from tests.system_packages import require


@pytest.fixture(scope="session")
def promtool() -> str:
    """The path of promtool (Debian package ``prometheus``); installing it on a fresh machine
    is allowed the time of one apt-get (the tests using it carry a long timeout)."""
    return require("promtool", "prometheus")
