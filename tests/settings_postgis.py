"""Settings of the PostGIS suite (tests/postgis/): the tenancy backend over PostGIS.

Run by tests/test_postgis.py in a process of its own, against Debian's PostgreSQL 15
with PostGIS (DATABASE_URL): TENANCY["BASE_BACKEND"] is read when the backend loads.
"""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS, TENANCY

TENANCY = {
    **TENANCY,
    "BASE_BACKEND": "django.contrib.gis.db.backends.postgis",
    # PostGIS's own catalog (spatial_ref_sys, geometry_columns) is in the shared schema.
    "SHARED_APPS": [*TENANCY["SHARED_APPS"], "django.contrib.gis"],
    "TENANT_APPS": [*TENANCY["TENANT_APPS"], "tests.places"],
}
INSTALLED_APPS = [*INSTALLED_APPS, "django.contrib.gis", "tests.places"]
