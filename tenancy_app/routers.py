"""Which apps migrate where: shared apps in the public schema, tenant apps in tenant schemas
(with tenant types, the apps of each schema's type)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from django.apps import AppConfig, apps
from django.core.signals import setting_changed
from django.dispatch import receiver

from .conf import tenancy_settings
from .context import get_current_schema
from .migration_scopes import HINT, Scope, runs_here
from .tenant_types import app_entries_of_type, is_typed, schema_type, tenant_app_entries


@lru_cache(maxsize=16)
def _configs(entries: frozenset[str]) -> tuple[AppConfig, ...]:
    return tuple(
        config
        for config in apps.get_app_configs()
        if config.name in entries
        or f"{type(config).__module__}.{type(config).__qualname__}" in entries
    )


@receiver(setting_changed)
def _forget_configs(*, setting: str, **kwargs: Any) -> None:
    if setting == "INSTALLED_APPS":
        _configs.cache_clear()


def app_configs(entries: Iterable[str]) -> tuple[AppConfig, ...]:
    """The installed app configs named by INSTALLED_APPS-style entries (module paths or
    AppConfig paths), in INSTALLED_APPS order. Entries naming no installed app are left out."""
    return _configs(frozenset(entries))


def app_labels(entries: Iterable[str]) -> frozenset[str]:
    """Labels (``auth``) of the installed apps ``entries`` name."""
    return frozenset(config.label for config in app_configs(entries))


def app_names(entries: Iterable[str]) -> frozenset[str]:
    """Module names (``django.contrib.auth``) of the installed apps ``entries`` name."""
    return frozenset(config.name for config in app_configs(entries))


def shared_app_labels() -> frozenset[str]:
    return app_labels(tenancy_settings.SHARED_APPS)


def tenant_app_labels() -> frozenset[str]:
    """Labels of the apps with tables in some tenant schema (of any type)."""
    return app_labels(tenant_app_entries())


def placed_app_labels(schema_name: str | None = None) -> frozenset[str]:
    """Labels of the apps whose tables belong in ``schema_name`` (default: the current one).

    Shared apps in the public schema; in a tenant or template schema the tenant apps, or
    with tenant types those of the schema's type (none for a type not configured).
    """
    schema_name = schema_name if schema_name is not None else get_current_schema()
    if schema_name == tenancy_settings.PUBLIC_SCHEMA:
        return shared_app_labels()
    if not is_typed():
        return app_labels(tenancy_settings.TENANT_APPS)
    tenant_type = schema_type(schema_name)
    return app_labels(app_entries_of_type(tenant_type)) if tenant_type else frozenset()


def is_swapped_out_default(app_label: str, model_name: str | None) -> bool:
    """True for the default Tenant/Domain models when the project uses its own."""
    if app_label != "tenancy_app" or model_name not in ("tenant", "domain"):
        return False
    configured = {
        "tenant": tenancy_settings.TENANT_MODEL,
        "domain": tenancy_settings.DOMAIN_MODEL,
    }[model_name]
    return configured.lower() != f"tenancy_app.{model_name}"


class TenantRouter:
    """Database router deciding, per schema, which apps' tables may exist there.

    The decision follows the active schema (see :mod:`tenancy_app.context`), so the
    same ``migrate`` machinery creates shared tables in the public schema and tenant
    tables in each tenant schema, never both in the wrong place. A ``RunPython`` or
    ``RunSQL`` scoped with :mod:`tenancy_app.migrations` helpers runs only in the
    schemas of its scope among those.
    """

    # No opinion on reads, writes and relations: one database holds every schema. Defined
    # (rather than left out) so that Django's router chain, asked before every query,
    # finds a method instead of raising and catching AttributeError.
    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        return None

    def db_for_write(self, model: type[Any], **hints: Any) -> str | None:
        return None

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool:
        if is_swapped_out_default(app_label, model_name):
            return False
        placed = app_label in placed_app_labels()
        scope = hints.get(HINT)
        if placed and scope is not None:
            # A scoped RunPython / RunSQL (tenancy_app.migrations.in_tenants, ...).
            return runs_here(Scope.from_hint(scope), db)
        return placed
