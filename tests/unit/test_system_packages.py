"""tests/system_packages: a program that cannot be installed fails the test under CI and is
skipped (never passed) elsewhere, naming why; installed once per session."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import system_packages

MISSING = "gateway-test-no-such-command"


@pytest.fixture
def apt_get_fails(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, ...]]]:
    """apt-get answering every call with a failure (no network to the mirrors, say)."""
    calls: list[tuple[str, ...]] = []

    def failing(*args: str) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        return subprocess.CompletedProcess(["apt-get", *args], 100, "", "E: Unable to locate")

    monkeypatch.setattr(system_packages, "_apt_get", failing)
    system_packages._ensure.cache_clear()
    yield calls
    system_packages._ensure.cache_clear()


def test_under_ci_a_missing_program_fails_the_test(
    apt_get_fails: list[tuple[str, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=f"{MISSING} .*could not be installed"):
        system_packages.require(MISSING, "no-such-package")
    # install, update, install again: then the outcome is kept for the session
    assert [call[0] for call in apt_get_fails] == ["install", "update"]
    with pytest.raises(pytest.fail.Exception, match="apt-get update failed"):
        system_packages.require(MISSING, "no-such-package")
    assert len(apt_get_fails) == 2


def test_outside_ci_a_missing_program_skips_with_the_reason(
    apt_get_fails: list[tuple[str, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="only a skip outside CI"):
        system_packages.require(MISSING, "no-such-package")


def test_a_program_already_there_is_used_without_apt_get(
    apt_get_fails: list[tuple[str, ...]],
) -> None:
    assert system_packages.require("sh", "dash").endswith("/sh")
    assert apt_get_fails == []


def test_a_file_is_looked_for_by_its_path(
    apt_get_fails: list[tuple[str, ...]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    present = tmp_path / "font.ttc"
    present.write_bytes(b"")
    assert system_packages.require(str(present), "some-fonts") == str(present)
    assert apt_get_fails == []  # there already: nothing installed
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"missing\.ttc .*could not be installed"):
        system_packages.require(str(tmp_path / "missing.ttc"), "some-fonts")
    assert [call[0] for call in apt_get_fails] == ["install", "update"]
