"""Users across tenants: one user table in the shared schema, a membership per tenant.

Two apps (see docs/users.rst)::

    TENANCY = {
        "SHARED_APPS": [..., "tenancy_app.contrib.users", "tenancy_app.contrib.users.roles"],
        "TENANT_APPS": [..., "tenancy_app.contrib.users.roles"],
    }
    AUTH_USER_MODEL = "tenancy_users.User"
    AUTHENTICATION_BACKENDS = ["tenancy_app.contrib.users.backends.MembershipBackend"]

``tenancy_app.contrib.users`` (label ``tenancy_users``, shared) holds the users (one
password for all their tenants) and the memberships (who belongs to which tenant, and
who owns it). ``tenancy_app.contrib.users.roles`` (label ``tenancy_roles``, in both
lists) holds in each schema its members' ``is_staff`` / ``is_superuser`` / groups /
permissions: in a tenant schema, that tenant's; in the public schema, the operators' of
the public site. The API is :mod:`.members` (``add_member``, ``remove_member``,
``transfer_ownership``), the authentication backend :mod:`.backends`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["add_member", "members_of", "remove_member", "tenants_of", "transfer_ownership"]


def __getattr__(name: str) -> Any:
    # The API imports models: loaded on first use, not while apps load.
    if name in __all__:
        from . import members

        return getattr(members, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
