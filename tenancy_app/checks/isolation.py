"""Checks for settings that would let one tenant see another tenant's data."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from ..conf import tenancy_settings
from ..routers import app_labels, app_names
from ..tenant_types import app_entries_of_type, tenant_app_entries
from .common import AppConfigs, Messages, is_subclass, lists_are_valid, load

AUTH, ADMIN = "django.contrib.auth", "django.contrib.admin"
CONTENTTYPES, SESSIONS = "django.contrib.contenttypes", "django.contrib.sessions"
KEY_FUNCTION = "tenancy_app.cache.make_key"
DB_SESSIONS = "django.contrib.sessions.backends.db.SessionStore"
CACHE_SESSIONS = "django.contrib.sessions.backends.cache.SessionStore"
CACHED_DB_SESSIONS = "django.contrib.sessions.backends.cached_db.SessionStore"
DUMMY_CACHE = "django.core.cache.backends.dummy.DummyCache"


def _tenant_app_lists() -> list[tuple[str, frozenset[str]]]:
    """Each kind of tenant schema, as (how to name its app list, its apps' module names):
    TENANT_APPS, or with tenant types each type's apps."""
    types = tenancy_settings.TENANT_TYPES
    if not types:
        return [("TENANCY['TENANT_APPS']", app_names(tenancy_settings.TENANT_APPS))]
    return [
        (f"the apps of tenant type {name!r}", app_names(app_entries_of_type(name)))
        for name in types
    ]


def _session_store() -> Any:
    return load(f"{settings.SESSION_ENGINE}.SessionStore")


def _cache_is_tenant_aware(alias: str) -> bool:
    key_function = settings.CACHES.get(alias, {}).get("KEY_FUNCTION")
    if key_function == KEY_FUNCTION:
        return True
    if isinstance(key_function, str):
        key_function = load(key_function)
    return key_function is not None and key_function is load(KEY_FUNCTION)


def sessions_are_per_tenant() -> bool:
    """Whether a session stored while serving one tenant is unknown to every other tenant."""
    store = _session_store()
    in_db = is_subclass(store, DB_SESSIONS)
    in_cache = is_subclass(store, CACHE_SESSIONS) or is_subclass(store, CACHED_DB_SESSIONS)
    if not (in_db or in_cache):
        return False  # files and signed cookies look the same to every tenant
    tenant_db = all(SESSIONS in names for _, names in _tenant_app_lists())
    tenant_cache = _cache_is_tenant_aware(getattr(settings, "SESSION_CACHE_ALIAS", "default"))
    return (tenant_db or not in_db) and (tenant_cache or not in_cache)


@register(Tags.security)
def check_auth_content_types(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E020: per-tenant auth needs per-tenant content types."""
    if not lists_are_valid():
        return []
    return [
        Error(
            f"'django.contrib.auth' is in {where} but "
            "'django.contrib.contenttypes' is not: each tenant's permissions would point at "
            "the content types of the public schema.",
            hint=f"Add 'django.contrib.contenttypes' to {where}.",
            id="tenancy.E020",
        )
        for where, tenant in _tenant_app_lists()
        if AUTH in tenant and CONTENTTYPES not in tenant
    ]


@register(Tags.models)
def check_shared_relations(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E021: no shared model relates to a model that exists in tenant schemas only."""
    if not lists_are_valid():
        return []
    shared = app_labels(tenancy_settings.SHARED_APPS)
    tenant_only = app_labels(tenant_app_entries()) - shared
    errors: Messages = []
    for model in apps.get_models():
        meta = model._meta
        if meta.app_label not in shared or meta.proxy or meta.swapped:
            continue
        if app_configs is not None and meta.app_config not in app_configs:
            continue
        for field in (*meta.fields, *meta.many_to_many):
            related = field.related_model
            if not isinstance(related, type) or related._meta.app_label not in tenant_only:
                continue
            app = related._meta.app_config.name
            errors.append(
                Error(
                    f"The shared model {meta.label} relates to {related._meta.label} (field "
                    f"{field.name!r}), but {app!r} is only a tenant app: the public schema "
                    "has no such table.",
                    hint=f"Add {app!r} to TENANCY['SHARED_APPS'] too.",
                    obj=model,
                    id="tenancy.E021",
                )
            )
    return errors


@register(Tags.security)
def check_sessions(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E022: per-tenant users need per-tenant database sessions."""
    if not lists_are_valid():
        return []
    shared = app_names(tenancy_settings.SHARED_APPS)
    if SESSIONS not in shared or not is_subclass(_session_store(), DB_SESSIONS):
        return []
    return [
        Error(
            "Users are per tenant but sessions are stored in the public schema only: session "
            "data saved while serving one tenant would be read while serving any other.",
            hint=f"Add 'django.contrib.sessions' to {where}.",
            id="tenancy.E022",
        )
        for where, tenant in _tenant_app_lists()
        if AUTH in tenant and SESSIONS not in tenant
    ]


@register(Tags.security)
def check_admin(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E023: a per-tenant admin needs per-tenant users."""
    if not lists_are_valid():
        return []
    return [
        Error(
            f"'django.contrib.admin' is in {where} but 'django.contrib.auth' "
            "is not: every staff user of the public schema could use every tenant's admin.",
            hint=f"Add 'django.contrib.auth' to {where}, or keep the admin in "
            "TENANCY['SHARED_APPS'] only.",
            id="tenancy.E023",
        )
        for where, tenant in _tenant_app_lists()
        if ADMIN in tenant and AUTH not in tenant
    ]


@register(Tags.security)
def check_session_cookie_domain(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.W004: one session cookie for all subdomains needs per-tenant sessions."""
    domain = settings.SESSION_COOKIE_DOMAIN
    if not domain or not lists_are_valid() or sessions_are_per_tenant():
        return []
    return [
        Warning(
            f"SESSION_COOKIE_DOMAIN is {domain!r} but sessions are not stored per tenant: the "
            "browser sends one session to every tenant under that domain, and each of them "
            "accepts it.",
            hint="Leave SESSION_COOKIE_DOMAIN unset, or store sessions per tenant: "
            "'django.contrib.sessions' in TENANCY['TENANT_APPS'] for database sessions, "
            f"KEY_FUNCTION {KEY_FUNCTION!r} on SESSION_CACHE_ALIAS for cache sessions.",
            id="tenancy.W004",
        )
    ]


@register(Tags.caches, Tags.security)
def check_caches(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.W005: caches the project configured keep each tenant's entries apart.

    Django's implicit default (no CACHES setting at all) and DummyCache are not reported.
    """
    if not settings.is_overridden("CACHES"):  # type: ignore[misc]
        return []
    return [
        Warning(
            f"CACHES[{alias!r}] has no tenant-aware KEY_FUNCTION: all tenants share its "
            "entries, so a tenant can read what another one cached under the same key.",
            hint=f"Set CACHES[{alias!r}]['KEY_FUNCTION'] = {KEY_FUNCTION!r}.",
            id="tenancy.W005",
        )
        for alias, cache in settings.CACHES.items()
        if cache.get("BACKEND") != DUMMY_CACHE and not _cache_is_tenant_aware(alias)
    ]
