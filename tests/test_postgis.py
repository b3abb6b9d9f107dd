"""Runs the PostGIS suite (tests/postgis/) on Debian's PostgreSQL 15 with PostGIS.

TENANCY["BASE_BACKEND"] is read when the backend loads, and GeoDjango needs GDAL and the
PostGIS extension on the server: so the suite runs in a process of its own, under
tests/settings_postgis.py, against a PostgreSQL 15 server started here
(``postgresql-15-postgis-3``, installed with apt-get on CI).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import PG15_BIN, database_url, pg15_server
from tests.system import require_debian_package

ROOT = Path(__file__).resolve().parent.parent
POSTGIS_CONTROL = "/usr/share/postgresql/15/extension/postgis.control"


@pytest.mark.heavy
def test_the_postgis_suite_passes_on_postgresql_15() -> None:
    require_debian_package(str(PG15_BIN / "postgres"), "postgresql-15")
    require_debian_package(POSTGIS_CONTROL, "postgresql-15-postgis-3")
    with pg15_server() as params:
        url = database_url(
            {"USER": params["user"], "HOST": params["host"], "PORT": params["port"]},
            "tenancy_postgis",
        )
        result = subprocess.run(
            [
                sys.executable, "-m", "pytest", "tests/postgis", "-q", "-p", "no:cacheprovider",
                "--ds", "tests.settings_postgis",
            ],
            cwd=ROOT,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings_postgis",
                 "DATABASE_URL": url},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )  # fmt: skip
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout
