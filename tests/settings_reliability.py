"""Settings of the projects the reliability suites run in subprocesses.

The test project plus the ``slowmig`` tenant app (a deploy's slow migration) and the
views of ``tests.reliability_urls``. The environment picks what a run varies:
``DATABASE_URL`` (a database of the suite's own), ``RELIABILITY_POOL`` (Django's psycopg
pool, its maximum size), ``RELIABILITY_SCOPE`` (``TENANCY["SEARCH_PATH_SCOPE"]``),
``RELIABILITY_MAX_SCHEMAS`` (``MAX_SCHEMAS_PER_CONNECTION``),
``RELIABILITY_REGISTRY_MAX_AGE``, ``RELIABILITY_CONN_MAX_AGE``,
``RELIABILITY_STATEMENT_TIMEOUT`` (milliseconds) and ``RELIABILITY_APP`` (the
``application_name`` its connections show in ``pg_stat_activity``).
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, TENANCY

TENANCY = {
    **TENANCY,
    "TENANT_APPS": [*TENANCY["TENANT_APPS"], "tests.slowmig"],
    "SEARCH_PATH_SCOPE": os.environ.get("RELIABILITY_SCOPE", "session"),
}
if os.environ.get("RELIABILITY_REGISTRY_MAX_AGE"):
    TENANCY["REGISTRY_MAX_AGE"] = float(os.environ["RELIABILITY_REGISTRY_MAX_AGE"])
if os.environ.get("RELIABILITY_MAX_SCHEMAS"):
    TENANCY["MAX_SCHEMAS_PER_CONNECTION"] = int(os.environ["RELIABILITY_MAX_SCHEMAS"])
INSTALLED_APPS = list(dict.fromkeys(TENANCY["SHARED_APPS"] + TENANCY["TENANT_APPS"]))
ROOT_URLCONF = "tests.reliability_urls"

_database = DATABASES["default"]
_options = _database.setdefault("OPTIONS", {})
_options["application_name"] = os.environ.get("RELIABILITY_APP", "reliability")
if os.environ.get("RELIABILITY_STATEMENT_TIMEOUT"):
    _options["options"] = f"-c statement_timeout={int(os.environ['RELIABILITY_STATEMENT_TIMEOUT'])}"
if os.environ.get("RELIABILITY_CONN_MAX_AGE"):
    _database["CONN_MAX_AGE"] = int(os.environ["RELIABILITY_CONN_MAX_AGE"])
    _database["CONN_HEALTH_CHECKS"] = True
if os.environ.get("RELIABILITY_SCOPE") == "transaction":
    _database["DISABLE_SERVER_SIDE_CURSORS"] = True  # behind PgBouncer (tenancy.W006)

if os.environ.get("RELIABILITY_POOL"):
    size = int(os.environ["RELIABILITY_POOL"])
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": size,
        "timeout": 30,
    }
