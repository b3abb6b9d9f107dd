"""System checks of tenancy_app.contrib.users (tenancy.E166-E169); see docs/checks.rst."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, register

from ...checks.common import AppConfigs, Messages, is_subclass, lists_are_valid, load
from ...conf import tenancy_settings
from ...routers import app_names
from ...tenant_types import app_entries_of_type

USERS = "tenancy_app.contrib.users"
ROLES = "tenancy_app.contrib.users.roles"
USER_MODEL = "tenancy_users.User"
BACKEND = "tenancy_app.contrib.users.backends.MembershipBackend"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
NEEDED_BY_ROLES = ("django.contrib.auth", "django.contrib.contenttypes")


def _tenant_lists() -> list[tuple[str, frozenset[str]]]:
    if not tenancy_settings.TENANT_TYPES:
        return [("TENANCY['TENANT_APPS']", app_names(tenancy_settings.TENANT_APPS))]
    return [
        (f"the apps of tenant type {name!r}", app_names(app_entries_of_type(name)))
        for name in tenancy_settings.TENANT_TYPES
    ]


@register(Tags.compatibility)
def check_users_placement(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E166: users are shared only; tenancy.E167: roles are in every schema."""
    if not lists_are_valid():
        return []
    errors: Messages = []
    shared = app_names(tenancy_settings.SHARED_APPS)
    tenant_lists = _tenant_lists()
    in_tenants = [where for where, names in tenant_lists if USERS in names]
    if USERS not in shared or in_tenants:
        errors.append(
            Error(
                f"{USERS!r} must be in TENANCY['SHARED_APPS'] and in no tenant app list"
                + (f" (it is in {', '.join(in_tenants)})" if in_tenants else "")
                + ": a tenant schema's own user table would hide the shared one.",
                hint=f"List {USERS!r} in TENANCY['SHARED_APPS'] only.",
                id="tenancy.E166",
            )
        )
    missing = [] if ROLES in shared else ["TENANCY['SHARED_APPS']"]
    for where, names in tenant_lists:
        if ROLES not in names or not all(app in names for app in NEEDED_BY_ROLES):
            missing.append(where)
    if missing:
        errors.append(
            Error(
                f"{ROLES!r} (with 'django.contrib.auth' and 'django.contrib.contenttypes' in "
                f"the tenant apps) is missing from {', '.join(missing)}: each schema keeps "
                "its members' roles, groups and permissions.",
                hint=f"Add {ROLES!r} to TENANCY['SHARED_APPS'] and to the tenant apps, with "
                "'django.contrib.auth' and 'django.contrib.contenttypes'.",
                id="tenancy.E167",
            )
        )
    return errors


@register(Tags.compatibility)
def check_user_model(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E168: AUTH_USER_MODEL is the shared user model (or a subclass)."""
    from .models import User

    try:
        model = apps.get_model(settings.AUTH_USER_MODEL)
    except (LookupError, ValueError):
        model = None
    if isinstance(model, type) and issubclass(model, User):
        return []
    return [
        Error(
            f"AUTH_USER_MODEL is {settings.AUTH_USER_MODEL!r}, but {USERS!r} is installed: "
            "its memberships and roles belong to its own user model.",
            hint=f"Set AUTH_USER_MODEL = {USER_MODEL!r} (before the first migration).",
            id="tenancy.E168",
        )
    ]


@register(Tags.security)
def check_backends(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E169: logins go through MembershipBackend, never through ModelBackend."""
    backends = [load(path) for path in settings.AUTHENTICATION_BACKENDS]
    ours = any(is_subclass(backend, BACKEND) for backend in backends)
    model_backends = [
        path
        for path, backend in zip(settings.AUTHENTICATION_BACKENDS, backends, strict=True)
        if is_subclass(backend, MODEL_BACKEND)
    ]
    if ours and not model_backends:
        return []
    return [
        Error(
            "AUTHENTICATION_BACKENDS "
            + (
                f"has {', '.join(map(repr, model_backends))}, which lets every user log into "
                "every tenant"
                if model_backends
                else f"lacks {BACKEND!r}: no login would check the user's memberships"
            )
            + ".",
            hint=f"Set AUTHENTICATION_BACKENDS = [{BACKEND!r}].",
            id="tenancy.E169",
        )
    ]
