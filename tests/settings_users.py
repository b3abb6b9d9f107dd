"""Settings of the tenancy_app.contrib.users suite (tests/users/): shared users.

Run by tests/test_contrib_users.py in a process of its own: AUTH_USER_MODEL cannot
change inside a running Django.
"""

from tests.settings import *  # noqa: F403
from tests.settings import TENANCY

USERS, ROLES = "tenancy_app.contrib.users", "tenancy_app.contrib.users.roles"

TENANCY = {
    **TENANCY,
    "SHARED_APPS": [*TENANCY["SHARED_APPS"], USERS, ROLES],
    "TENANT_APPS": [*TENANCY["TENANT_APPS"], ROLES],
}
INSTALLED_APPS = list(dict.fromkeys(TENANCY["SHARED_APPS"] + TENANCY["TENANT_APPS"]))
AUTH_USER_MODEL = "tenancy_users.User"
AUTHENTICATION_BACKENDS = ["tenancy_app.contrib.users.backends.MembershipBackend"]
TENANCY["TENANT_URLCONF"] = TENANCY["PUBLIC_URLCONF"] = "tests.users.urls"
