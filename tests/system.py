"""Debian packages some integration tests need (PgBouncer, Chromium, wrk).

On a Debian machine where the suite runs as root (CI), a missing package is installed
with apt-get, so the suite needs nothing installed by hand; elsewhere the tests that
need it are skipped with the command to run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

import pytest

_lock = threading.Lock()
_updated = False


def _find(binary: str) -> str | None:
    if os.path.isabs(binary):  # a file the package installs (not every package has a binary)
        return binary if os.path.exists(binary) else None
    return shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin:/sbin")


def require_debian_package(binary: str, package: str) -> str:
    """Path of ``binary``, installing Debian's ``package`` first if needed and possible.

    ``binary`` is a command name, or the absolute path of a file the package installs.
    """
    global _updated
    found = _find(binary)
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip(f"{binary} is not installed: run `apt-get install {package}`")
    with _lock:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if not _updated:
            subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
            _updated = True
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", package], check=True, env=env, capture_output=True
        )
    found = _find(binary)
    assert found, f"apt-get installed {package} but {binary} is still missing"
    return found
