"""Runs the PostGIS suite (tests/postgis/) on Debian's PostgreSQL 15 with PostGIS.

TENANCY["BASE_BACKEND"] is read when the backend loads, and GeoDjango needs GDAL and the
PostGIS extension on the server: so the suite runs in a process of its own, under
tests/settings_postgis.py, against a PostgreSQL 15 server started here
(``postgresql-15-postgis-3``, installed with apt-get on CI).
"""

from __future__ import annotations

import pytest

from tests.servers import PG15_BIN, database_url, pg15_server
from tests.subsuites import assert_suite_passes
from tests.system import require_debian_package

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
        assert_suite_passes("tests/postgis", "tests.settings_postgis", DATABASE_URL=url)
