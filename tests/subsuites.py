"""Suites that need settings of their own, run with pytest in a process of their own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def assert_suite_passes(folder: str, settings_module: str, **env: str) -> None:
    """Run the tests in ``folder`` under ``settings_module``; all must pass, none skipped."""
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", folder, "-q", "-p", "no:cacheprovider",
            "--ds", settings_module,
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": settings_module, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout
