"""Programs some tests need from the system's (Debian's) packages, such as ``promtool`` from
``prometheus``: installed with ``apt-get`` when missing, at most once per test session.

``require(command, package)`` gives the program's path; ``command`` may also be an absolute
path of a file the package installs (a font has no command to look for). When it cannot be
had (no apt-get, not root, the mirrors out of reach), the test fails with the reason under
CI (the ``CI`` variable set): a check that cannot run must never pass silently. Elsewhere it
is skipped, with the same reason. pytest-xdist's workers install one at a time (apt and
dpkg take one installation at a time per machine), under a lock file shared by every test
session.
"""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

#: one installation at a time on this machine, whichever session or worker asks
LOCK = Path(tempfile.gettempdir()) / "gateway-tests-system-packages.lock"
#: an installation's longest run (downloading the package lists and the package)
INSTALL_SECONDS = 900


class Unavailable(Exception):
    """The program is missing and could not be installed; the message says why."""


def _apt_get(*args: str) -> subprocess.CompletedProcess[str]:
    prefix: list[str] = []
    if os.geteuid() != 0:
        sudo = shutil.which("sudo")
        if sudo is None:
            raise Unavailable("not root, and no sudo to run apt-get with")
        prefix = [sudo, "-n"]
    apt_get = shutil.which("apt-get")
    if apt_get is None:
        raise Unavailable("no apt-get on this machine (not Debian?)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        return subprocess.run(
            [*prefix, apt_get, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=INSTALL_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise Unavailable(f"apt-get {' '.join(args)} took over {INSTALL_SECONDS} s") from exc


def _tail(run: subprocess.CompletedProcess[str], lines: int = 8) -> str:
    return "\n".join((run.stdout + run.stderr).strip().splitlines()[-lines:])


def _install(package: str) -> None:
    install = ("install", "--yes", "--no-install-recommends", package)
    run = _apt_get(*install)
    if run.returncode != 0:
        # A fresh machine has no package lists yet (or stale ones): fetch them, then again.
        update = _apt_get("update")
        if update.returncode != 0:
            raise Unavailable(f"apt-get update failed (exit {update.returncode}):\n{_tail(update)}")
        run = _apt_get(*install)
    if run.returncode != 0:
        raise Unavailable(
            f"apt-get install {package} failed (exit {run.returncode}):\n{_tail(run)}"
        )


def ensure(command: str, package: str) -> str:
    """The path of ``command``, installing the Debian ``package`` that has it when it is
    missing (tried once per session); raises ``Unavailable`` naming why it cannot be had."""
    outcome = _ensure(command, package)
    if isinstance(outcome, Unavailable):
        raise outcome
    return outcome


@functools.cache
def _ensure(command: str, package: str) -> str | Unavailable:
    try:
        return _find_or_install(command, package)
    except Unavailable as exc:
        return exc


def _which(command: str) -> str | None:
    if os.path.isabs(command):
        return command if os.path.exists(command) else None
    return shutil.which(command)


def _find_or_install(command: str, package: str) -> str:
    found = _which(command)
    if found:
        return found
    LOCK.touch(exist_ok=True)
    with LOCK.open("r+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be installing it right now
        try:
            found = _which(command)
            if found:
                return found
            _install(package)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    found = _which(command)
    if found is None:
        raise Unavailable(f"apt-get installed {package}, but there is still no {command}")
    return found


def require(command: str, package: str) -> str:
    """The path of ``command`` for a test: installed from ``package`` when missing; else the
    test fails under CI and is skipped elsewhere, naming the reason."""
    try:
        return ensure(command, package)
    except Unavailable as exc:
        reason = (
            f"{command} (Debian package {package}) is missing and could not be installed: {exc}"
        )
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(f"{reason} (only a skip outside CI; under CI this fails)")
