"""Checks of which apps live where, and of the tenant registry models."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.checks import Error, Tags, Warning, register
from django.db import models
from django.utils.module_loading import module_has_submodule

from ..conf import tenancy_settings
from ..routers import app_configs as installed_configs
from ..routers import app_labels
from ..tenant_types import tenant_app_entries
from .common import LIST_KEYS, AppConfigs, Messages, lists_are_valid


@register(Tags.compatibility)
def check_app_lists(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E004: list-valued keys hold lists (a bare string would be split into letters)."""
    errors: Messages = []
    for key in LIST_KEYS:
        value = tenancy_settings.raw(key)
        if not isinstance(value, list | tuple):
            errors.append(
                Error(
                    f"TENANCY[{key!r}] must be a list or tuple of strings, not {value!r}.",
                    hint=f"Write TENANCY[{key!r}] = [{value!r}] if one entry was meant.",
                    id="tenancy.E004",
                )
            )
    return errors


@register(Tags.compatibility)
def check_tenancy_app_shared(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E005: tenancy_app itself is a shared app."""
    if not lists_are_valid() or "tenancy_app" in app_labels(tenancy_settings.SHARED_APPS):
        return []
    return [
        Error(
            "'tenancy_app' is not in TENANCY['SHARED_APPS']: the tenant registry would have no "
            "tables in the public schema.",
            hint="Add 'tenancy_app' to TENANCY['SHARED_APPS'].",
            id="tenancy.E005",
        )
    ]


@register(Tags.compatibility)
def check_apps_placed(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E006: every installed app with tables is placed; tenancy.W002: no stray entries.

    With tenant types, tenancy.E163 (checks/types.py) checks the placement instead.
    """
    if not lists_are_valid():
        return []
    shared, tenant = tenancy_settings.SHARED_APPS, tenancy_settings.TENANT_APPS
    placed = app_labels((*shared, *tenant))
    errors: Messages = []
    for config in apps.get_app_configs():
        if tenancy_settings.raw("TENANT_TYPES"):
            break  # tenancy.E163
        has_tables = any(config.get_models(include_auto_created=True)) or module_has_submodule(
            config.module, "migrations"
        )
        if has_tables and config.label not in placed:
            errors.append(
                Error(
                    f"The installed app {config.name!r} is in neither TENANCY['SHARED_APPS'] "
                    "nor TENANCY['TENANT_APPS'], so its tables are created in no schema.",
                    hint=f"Add {config.name!r} to TENANCY['SHARED_APPS'] (public schema), "
                    "TENANCY['TENANT_APPS'] (every tenant schema) or both.",
                    id="tenancy.E006",
                )
            )
    for key, entries in (("SHARED_APPS", shared), ("TENANT_APPS", tenant)):
        errors.extend(
            Warning(
                f"TENANCY[{key!r}] lists {entry!r}, which is not in INSTALLED_APPS.",
                hint=f"Add {entry!r} to INSTALLED_APPS, correct its spelling, or remove it "
                f"from TENANCY[{key!r}].",
                id="tenancy.W002",
            )
            for entry in entries
            if not installed_configs([entry])
        )
    return errors


def _model(value: str) -> type[models.Model] | None:
    try:
        return apps.get_model(value)
    except (LookupError, ValueError):
        return None


@register(Tags.models)
def check_registry_models(app_configs: AppConfigs = None, **kwargs: Any) -> Messages:
    """tenancy.E007-E010: TENANT_MODEL and DOMAIN_MODEL name fitting, shared models."""
    from ..models import DomainBase, TenantBase

    errors: Messages = []
    found: dict[str, type[models.Model] | None] = {}
    for key, value, base in (
        ("TENANT_MODEL", tenancy_settings.TENANT_MODEL, TenantBase),
        ("DOMAIN_MODEL", tenancy_settings.DOMAIN_MODEL, DomainBase),
    ):
        model = _model(value)
        if model is None:
            errors.append(
                Error(
                    f"TENANCY[{key!r}] is {value!r}, which is not an installed model.",
                    hint="Use 'app_label.ModelName' of a model whose app is in INSTALLED_APPS.",
                    id="tenancy.E007",
                )
            )
        elif not issubclass(model, base):
            errors.append(
                Error(
                    f"TENANCY[{key!r}] is {value!r}, which does not subclass "
                    f"tenancy_app.models.{base.__name__}.",
                    hint=f"Make {model.__name__} a subclass of {base.__name__}.",
                    id="tenancy.E008",
                )
            )
            model = None
        elif lists_are_valid() and (
            model._meta.app_label not in app_labels(tenancy_settings.SHARED_APPS)
            or model._meta.app_label in app_labels(tenant_app_entries())
        ):
            app = model._meta.app_config.name
            errors.append(
                Error(
                    f"The app of TENANCY[{key!r}], {app!r}, must be in TENANCY['SHARED_APPS'] "
                    "and not in TENANCY['TENANT_APPS'] (nor a tenant type's APPS): the "
                    "registry lives in the public schema only.",
                    hint=f"List {app!r} in TENANCY['SHARED_APPS'] only.",
                    id="tenancy.E010",
                )
            )
        found[key] = model
    tenant_model, domain_model = found["TENANT_MODEL"], found["DOMAIN_MODEL"]
    if tenant_model is None or domain_model is None:
        return errors
    fields = [field for field in domain_model._meta.fields if field.name == "tenant"]
    target = fields[0].related_model if fields else None
    if target is not tenant_model:
        errors.append(
            Error(
                f"TENANCY['DOMAIN_MODEL'] ({domain_model._meta.label}) has no 'tenant' foreign "
                f"key to TENANCY['TENANT_MODEL'] ({tenant_model._meta.label}).",
                hint="A swapped TENANT_MODEL needs a swapped DOMAIN_MODEL too: subclass "
                "DomainBase in your app and point TENANCY['DOMAIN_MODEL'] at it.",
                id="tenancy.E009",
            )
        )
    return errors
