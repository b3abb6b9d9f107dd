"""Runs the tenancy_app.contrib.users suite (tests/users/) in a process of its own.

That suite needs AUTH_USER_MODEL = "tenancy_users.User" (tests/settings_users.py), which
cannot change inside a running Django; here it runs with pytest under those settings,
against the same server (its own test database), and must pass whole.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_users_suite_passes_under_its_own_settings() -> None:
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", "tests/users", "-q", "-p", "no:cacheprovider",
            "--ds", "tests.settings_users",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings_users"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout
