"""Checks that the project plugged the app in: database engine, router, middleware, admin."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from .common import AppConfigs, Messages, is_subclass, load, names_subclass

ENGINE = "tenancy_app.backends.postgresql"
ROUTER = "tenancy_app.routers.TenantRouter"
MIDDLEWARE = "tenancy_app.middleware.TenantMiddleware"

#: Middleware that use the database, the session or request.urlconf, and so must run
#: inside the tenant's context: after TenantMiddleware.
NEEDS_TENANT = (
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.RemoteUserMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.cache.UpdateCacheMiddleware",
    "django.middleware.cache.FetchFromCacheMiddleware",
    "django.contrib.sites.middleware.CurrentSiteMiddleware",
    "django.contrib.redirects.middleware.RedirectFallbackMiddleware",
    "django.contrib.flatpages.middleware.FlatpageFallbackMiddleware",
)


def _applies_search_path(engine: str) -> bool:
    if engine == ENGINE:
        return True
    return is_subclass(load(f"{engine}.base.DatabaseWrapper"), f"{ENGINE}.base.DatabaseWrapper")


@register(Tags.compatibility)
def check_database_engines(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E001: every database uses the search_path backend."""
    errors: Messages = []
    for alias, database in settings.DATABASES.items():
        engine = str(database.get("ENGINE", ""))
        if not _applies_search_path(engine):
            errors.append(
                Error(
                    f"DATABASES[{alias!r}]['ENGINE'] is {engine!r}, which does not switch "
                    "schemas: every query on it would run in one schema, whatever the tenant.",
                    hint=f"Set DATABASES[{alias!r}]['ENGINE'] = {ENGINE!r} (or a backend whose "
                    "DatabaseWrapper subclasses that one's).",
                    id="tenancy.E001",
                )
            )
    return errors


@register(Tags.compatibility)
def check_router(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E002: TenantRouter (or a subclass) is in DATABASE_ROUTERS."""
    if any(names_subclass(router, ROUTER) for router in settings.DATABASE_ROUTERS):
        return []
    return [
        Error(
            f"{ROUTER!r} is not in DATABASE_ROUTERS: migrations would create shared and "
            "tenant tables in every schema.",
            hint=f"Add {ROUTER!r} to DATABASE_ROUTERS.",
            id="tenancy.E002",
        )
    ]


@register(Tags.compatibility)
def check_middleware(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E003: TenantMiddleware is installed; tenancy.W001: early enough."""
    middleware = list(settings.MIDDLEWARE or ())
    position = next(
        (index for index, path in enumerate(middleware) if names_subclass(path, MIDDLEWARE)),
        None,
    )
    if position is None:
        return [
            Error(
                f"{MIDDLEWARE!r} is not in MIDDLEWARE: no request would be routed to its "
                "tenant's schema.",
                hint=f"Add {MIDDLEWARE!r} at the top of MIDDLEWARE.",
                id="tenancy.E003",
            )
        ]
    return [
        Warning(
            f"{path!r} comes before {MIDDLEWARE!r} in MIDDLEWARE, so it runs in the public "
            "schema with the public URLconf instead of the tenant's.",
            hint=f"Move {MIDDLEWARE!r} above {path!r}: first, or right after SecurityMiddleware.",
            id="tenancy.W001",
        )
        for path in middleware[:position]
        if any(names_subclass(path, needs) for needs in NEEDS_TENANT)
    ]


@register(Tags.admin)
def check_admin_site(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E027: the admin is TenancyAdminConfig, not plain django.contrib.admin."""
    from django.apps import apps

    if not apps.is_installed("django.contrib.admin"):
        return []
    site = apps.get_app_config("admin").default_site  # type: ignore[attr-defined]
    if names_subclass(site, "tenancy_app.admin_site.TenancyAdminSite"):
        return []
    return [
        Error(
            "django.contrib.admin is installed with its own AdminSite, not tenancy_app's: every "
            "model is listed on every host, the tenant registry on tenants' hosts and tenant "
            "models on the public one, whose tables are not there.",
            hint="List 'tenancy_app.apps.TenancyAdminConfig' instead of 'django.contrib.admin' "
            "in INSTALLED_APPS, TENANCY['SHARED_APPS'] and TENANCY['TENANT_APPS']: it is "
            "django.contrib.admin with a site that shows each model only where its app lives.",
            id="tenancy.E027",
        )
    ]


@register(Tags.compatibility)
def check_base_backend(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E170: BASE_BACKEND is a backend derived from Django's PostgreSQL backend."""
    from django.core.exceptions import ImproperlyConfigured

    from ..backends.postgresql.base_backend import base_wrapper
    from ..conf import tenancy_settings

    path = tenancy_settings.raw("BASE_BACKEND")
    try:
        if not isinstance(path, str):
            raise ImproperlyConfigured(f"TENANCY['BASE_BACKEND'] is {path!r}, not a dotted path.")
        base_wrapper(path)
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint="Name a backend module derived from django.db.backends.postgresql, e.g. "
                "'django.contrib.gis.db.backends.postgis', or remove the key.",
                id="tenancy.E170",
            )
        ]
    return []
