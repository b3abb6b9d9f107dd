"""Settings of the Citus end-to-end tests (tests/test_citus.py), run in subprocesses.

The test settings plus ``tests.billing``, a tenant app with a foreign key to the tenant
registry, and a URLconf with a view that writes. DATABASE_URL points at the cluster's
coordinator.
"""

from tests.settings import *  # noqa: F403
from tests.settings import TENANCY

TENANCY = {**TENANCY, "TENANT_APPS": [*TENANCY["TENANT_APPS"], "tests.billing"]}
INSTALLED_APPS = list(dict.fromkeys(TENANCY["SHARED_APPS"] + TENANCY["TENANT_APPS"]))
ROOT_URLCONF = "tests.citus_urls"
