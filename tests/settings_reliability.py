"""Settings of the projects the reliability suites run in subprocesses.

The test project plus the ``slowmig`` tenant app (a deploy's slow migration) and the
views of ``tests.reliability_urls``. The environment picks what a run varies:
``DATABASE_URL`` (a database of the suite's own), ``RELIABILITY_POOL`` (Django's psycopg
pool, its maximum size) and ``RELIABILITY_SCOPE`` (``TENANCY["SEARCH_PATH_SCOPE"]``).
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, TENANCY

TENANCY = {
    **TENANCY,
    "TENANT_APPS": [*TENANCY["TENANT_APPS"], "tests.slowmig"],
    "SEARCH_PATH_SCOPE": os.environ.get("RELIABILITY_SCOPE", "session"),
}
if os.environ.get("RELIABILITY_MAX_SCHEMAS"):
    TENANCY["MAX_SCHEMAS_PER_CONNECTION"] = int(os.environ["RELIABILITY_MAX_SCHEMAS"])
INSTALLED_APPS = list(dict.fromkeys(TENANCY["SHARED_APPS"] + TENANCY["TENANT_APPS"]))
ROOT_URLCONF = "tests.reliability_urls"

if os.environ.get("RELIABILITY_POOL"):
    size = int(os.environ["RELIABILITY_POOL"])
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": size,
        "timeout": 30,
    }
