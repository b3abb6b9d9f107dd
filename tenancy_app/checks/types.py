"""Checks of TENANCY["TENANT_TYPES"]: its shape, its apps and URLconfs, and the tenants' types."""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import import_module
from typing import Any

from django.apps import apps
from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError, connections, transaction
from django.utils.module_loading import module_has_submodule

from ..conf import tenancy_settings
from ..names import MAX_SCHEMA_NAME_BYTES
from ..routers import app_configs as installed_configs
from ..routers import app_labels
from .common import AppConfigs, Messages, lists_are_valid

_TYPE_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
_ENTRY_KEYS = frozenset({"APPS", "URLCONF"})


def _raw_types() -> Any:
    return tenancy_settings.raw("TENANT_TYPES")


def types_are_valid() -> bool:
    """Whether TENANT_TYPES has the right shape (else tenancy.E161 / E162 report it)."""
    return not check_tenant_types()


@register(Tags.compatibility)
def check_tenant_types(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E161: TENANT_TYPES is a dict of dicts; tenancy.E162: type names are usable."""
    value = _raw_types()
    if not isinstance(value, Mapping):
        return [
            Error(
                f"TENANCY['TENANT_TYPES'] must be a dict of tenant types, not {value!r}.",
                hint='Write {"store": {"APPS": ["shop"], "URLCONF": "shop.urls"}, ...}, or '
                "{} for no tenant types.",
                id="tenancy.E161",
            )
        ]
    errors: Messages = []
    template = str(tenancy_settings.TEMPLATE_SCHEMA)
    for name, entry in value.items():
        if not isinstance(name, str) or not _TYPE_NAME.match(name):
            errors.append(
                Error(
                    f"TENANCY['TENANT_TYPES'] has the type name {name!r}, which is not a "
                    "lower-case identifier.",
                    hint="Use lower-case ASCII letters, digits and underscores, starting with "
                    "a letter: the name is part of the type's template schema name.",
                    id="tenancy.E162",
                )
            )
        elif len(f"{template}_{name}".encode()) > MAX_SCHEMA_NAME_BYTES:
            errors.append(
                Error(
                    f"The tenant type {name!r} makes the template schema name "
                    f"{template}_{name!r} longer than {MAX_SCHEMA_NAME_BYTES} bytes.",
                    hint="Use a shorter type name (or a shorter TENANCY['TEMPLATE_SCHEMA']).",
                    id="tenancy.E162",
                )
            )
        problem = _entry_problem(entry)
        if problem:
            errors.append(
                Error(
                    f"TENANCY['TENANT_TYPES'][{name!r}] {problem}.",
                    hint='Each type is a dict: {"APPS": [app, ...], "URLCONF": "dotted.path" '
                    "or None}; URLCONF may be left out.",
                    id="tenancy.E161",
                )
            )
    return errors


def _entry_problem(entry: Any) -> str:
    if not isinstance(entry, Mapping):
        return f"must be a dict, not {entry!r}"
    unknown = sorted(str(key) for key in set(entry) - _ENTRY_KEYS)
    if unknown:
        return f"has unknown keys {', '.join(unknown)} (known: APPS, URLCONF)"
    apps_value = entry.get("APPS", [])
    if not isinstance(apps_value, list | tuple) or not all(
        isinstance(app, str) for app in apps_value
    ):
        return f"has APPS {apps_value!r}, which is not a list of strings"
    urlconf = entry.get("URLCONF")
    if urlconf is not None and not isinstance(urlconf, str):
        return f"has URLCONF {urlconf!r}, which is not a dotted path or None"
    return ""


def _typed_and_valid() -> bool:
    value = _raw_types()
    return bool(value) and isinstance(value, Mapping) and types_are_valid() and lists_are_valid()


@register(Tags.compatibility)
def check_type_apps(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E163: every app with tables is in some list; tenancy.E164: no type without
    apps; tenancy.W161: a type's APPS are installed."""
    if not _typed_and_valid():
        return []
    types = tenancy_settings.TENANT_TYPES
    common = tenancy_settings.TENANT_APPS
    placed = app_labels(
        (*tenancy_settings.SHARED_APPS, *common, *(a for t in types.values() for a in t.apps))
    )
    errors: Messages = []
    for config in apps.get_app_configs():
        has_tables = any(config.get_models(include_auto_created=True)) or module_has_submodule(
            config.module, "migrations"
        )
        if has_tables and config.label not in placed:
            errors.append(
                Error(
                    f"The installed app {config.name!r} is in neither TENANCY['SHARED_APPS'], "
                    "TENANCY['TENANT_APPS'] nor any tenant type's APPS, so its tables are "
                    "created in no schema.",
                    hint=f"Add {config.name!r} to TENANCY['SHARED_APPS'] (public schema), "
                    "TENANCY['TENANT_APPS'] (every tenant schema) or the APPS of the tenant "
                    "types that use it.",
                    id="tenancy.E163",
                )
            )
    for tenant_type in types.values():
        if not common and not tenant_type.apps:
            errors.append(
                Error(
                    f"The tenant type {tenant_type.name!r} has no apps: its APPS and "
                    "TENANCY['TENANT_APPS'] are both empty, so its schemas would hold no table.",
                    hint=f"List the type's apps in TENANCY['TENANT_TYPES'][{tenant_type.name!r}]"
                    "['APPS'], or the apps of every type in TENANCY['TENANT_APPS'].",
                    id="tenancy.E164",
                )
            )
        errors.extend(
            Warning(
                f"TENANCY['TENANT_TYPES'][{tenant_type.name!r}]['APPS'] lists {entry!r}, "
                "which is not in INSTALLED_APPS.",
                hint=f"Add {entry!r} to INSTALLED_APPS, correct its spelling, or remove it.",
                id="tenancy.W161",
            )
            for entry in tenant_type.apps
            if not installed_configs([entry])
        )
    return errors


@register(Tags.urls)
def check_type_urlconfs(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E165: each type's URLCONF is an importable module."""
    if not _typed_and_valid():
        return []
    errors: Messages = []
    for tenant_type in tenancy_settings.TENANT_TYPES.values():
        if not tenant_type.urlconf:
            continue
        try:
            import_module(tenant_type.urlconf)
        except Exception as exc:  # a broken URLconf can raise anything while importing
            errors.append(
                Error(
                    f"TENANCY['TENANT_TYPES'][{tenant_type.name!r}]['URLCONF'] is "
                    f"{tenant_type.urlconf!r}, which cannot be imported: {exc}",
                    hint="Use the dotted path of a URLconf module, or leave URLCONF out to "
                    "use TENANCY['TENANT_URLCONF'].",
                    id="tenancy.E165",
                )
            )
    return errors


@register(Tags.database)
def check_tenants_types_configured(
    app_configs: AppConfigs = None, databases: Any = None, **kwargs: Any
) -> Messages:
    """tenancy.W162: every registered tenant's type is configured (database check)."""
    if not databases or not isinstance(_raw_types(), Mapping) or not types_are_valid():
        return []
    from ..context import public_context
    from ..models import get_tenant_model

    model = get_tenant_model()
    configured = list(tenancy_settings.TENANT_TYPES)
    warnings: Messages = []
    for alias in databases:
        connection = connections[alias]
        try:
            with public_context(), transaction.atomic(using=alias):
                with connection.cursor() as cursor:
                    if model._meta.db_table not in connection.introspection.table_names(cursor):
                        continue  # the registry is not migrated yet
                stranded = list(
                    model._default_manager.using(alias)
                    .exclude(type__in=configured or [""])
                    .values_list("type")
                    .order_by("type")
                    .distinct()
                )
        except DatabaseError:
            continue  # e.g. the type column is not migrated yet: migrate reports that
        for (tenant_type,) in stranded:
            examples = list(
                model._default_manager.using(alias)
                .filter(type=tenant_type)
                .order_by("schema_name")
                .values_list("schema_name", flat=True)[:3]
            )
            warnings.append(_stranded_warning(alias, tenant_type, examples, bool(configured)))
    return warnings


def _stranded_warning(alias: str, tenant_type: str, examples: list[str], typed: bool) -> Warning:
    where = f"database {alias!r}" if alias != "default" else "the registry"
    shown = ", ".join(examples)
    if not typed:
        what = f"Tenants of type {tenant_type!r} ({shown}, ...) are in {where}, but "
        what += "TENANCY['TENANT_TYPES'] is not configured"
    elif not tenant_type:
        what = f"Tenants without a type ({shown}, ...) are in {where}, but "
        what += "TENANCY['TENANT_TYPES'] is configured"
    else:
        what = f"Tenants of type {tenant_type!r} ({shown}, ...) are in {where}, but that "
        what += "type is not in TENANCY['TENANT_TYPES']"
    return Warning(
        what + ": they are not served (503) and migrate_schemas reports them failed.",
        hint="Configure the type again, or give those tenants a configured type whose apps "
        "their schemas already hold (each schema records every app's migrations, so "
        "migrate_schemas does not create the tables of an app it was not given before).",
        id="tenancy.W162",
    )
