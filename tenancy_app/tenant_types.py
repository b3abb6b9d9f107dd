"""Tenant types: the apps, URLconf and template schema of each kind of tenant.

Without ``TENANCY["TENANT_TYPES"]`` there is one kind of tenant: every tenant schema
holds ``TENANT_APPS``, is served with ``TENANT_URLCONF`` and copied from
``TEMPLATE_SCHEMA``; a tenant's ``type`` is empty. With it, each tenant has a ``type``
(a key of the setting, fixed when the tenant is created) and its schema holds
``TENANT_APPS`` plus the type's ``APPS``; requests use the type's ``URLCONF`` (else
``TENANT_URLCONF``); each type has its own template schema, ``<TEMPLATE_SCHEMA>_<type>``.

A tenant whose type is not configured (any more) is served nothing and migrated nowhere:
the router gives its schema no app, the middleware answers it as unavailable,
``migrate_schemas`` reports it failed, and system check tenancy.W162 names it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import sql

from .conf import TenantType, tenancy_settings
from .context import get_current_tenant, public_context
from .exceptions import UnknownTenantType

if TYPE_CHECKING:
    from .models import TenantBase

__all__ = [
    "TenantType",
    "app_entries_of_type",
    "is_configured",
    "is_typed",
    "read_schema_types",
    "schema_type",
    "template_schema",
    "template_schemas",
    "tenant_app_entries",
    "tenant_type_choices",
    "tenant_urlconf",
    "type_of_template",
    "validate_tenant_type",
]


def is_typed() -> bool:
    """Whether the project configures tenant types."""
    return bool(tenancy_settings.TENANT_TYPES)


def tenant_type_choices() -> list[tuple[str, str]]:
    """The ``choices`` of ``TenantBase.type``: the configured types (read when used)."""
    return [(name, name) for name in tenancy_settings.TENANT_TYPES]


def validate_tenant_type(value: str | None) -> str:
    """The type a new tenant gets: ``""`` without types, else a configured type's name.

    Raises :class:`UnknownTenantType` (a ``ValidationError``) before any SQL.
    """
    if not is_typed():
        if value:
            raise UnknownTenantType(value)
        return ""
    if not value or value not in tenancy_settings.TENANT_TYPES:
        raise UnknownTenantType(value)
    return value


def app_entries_of_type(name: str) -> tuple[str, ...]:
    """INSTALLED_APPS-style entries of the apps in a schema of type ``name``.

    Empty for a type that is not configured.
    """
    tenant_type = tenancy_settings.TENANT_TYPES.get(name)
    if tenant_type is None:
        return ()
    return tuple(dict.fromkeys((*tenancy_settings.TENANT_APPS, *tenant_type.apps)))


def tenant_app_entries() -> tuple[str, ...]:
    """Entries of every app that has tables in some tenant schema (whatever the type)."""
    entries = list(tenancy_settings.TENANT_APPS)
    for tenant_type in tenancy_settings.TENANT_TYPES.values():
        entries.extend(tenant_type.apps)
    return tuple(dict.fromkeys(entries))


def template_schema(tenant_type: str = "") -> str:
    """The template schema new tenants of ``tenant_type`` are copied from."""
    base = tenancy_settings.TEMPLATE_SCHEMA
    return f"{base}_{tenant_type}" if tenant_type else base


def template_schemas() -> dict[str, str]:
    """Every template schema in use, by name, with its type (``""`` without types)."""
    if not is_typed():
        return {tenancy_settings.TEMPLATE_SCHEMA: ""}
    return {template_schema(name): name for name in tenancy_settings.TENANT_TYPES}


def type_of_template(schema_name: str) -> str | None:
    """The type whose template schema is ``schema_name``, else ``None``."""
    return template_schemas().get(schema_name)


def schema_type(schema_name: str) -> str | None:
    """The type of the tenant (or template) schema ``schema_name``; ``None`` if unknown.

    The active tenant answers first (requests, ``tenant_context``, provisioning), then the
    template names, then the registry through the cached lookup (``schema_context``).
    """
    tenant = get_current_tenant()
    if tenant is not None and tenant.schema_name == schema_name:
        return str(tenant.type)
    found = type_of_template(schema_name)
    if found is not None:
        return found
    from .lookup import tenant_for_schema

    registered = tenant_for_schema(schema_name)
    return str(registered.type) if registered is not None else None


def is_configured(tenant: TenantBase) -> bool:
    """Whether ``tenant``'s type is one the project configures (always true without types)."""
    if not is_typed():
        return not tenant.type
    return tenant.type in tenancy_settings.TENANT_TYPES


def tenant_urlconf(tenant: TenantBase) -> str | None:
    """The URLconf for ``tenant``'s requests: its type's, else ``TENANT_URLCONF``."""
    tenant_type = tenancy_settings.TENANT_TYPES.get(tenant.type) if tenant.type else None
    if tenant_type is not None and tenant_type.urlconf:
        return tenant_type.urlconf
    return tenancy_settings.TENANT_URLCONF


def read_schema_types(schemas: Sequence[str], *, using: str = DEFAULT_DB_ALIAS) -> dict[str, str]:
    """The type of each of ``schemas`` that is a template or a registered tenant; one query.

    Without tenant types every such schema's type is ``""``. The public schema and
    schemas that are neither are left out.
    """
    from .models import get_tenant_model

    templates = template_schemas()
    found = {name: templates[name] for name in schemas if name in templates}
    rest = [name for name in schemas if name not in templates]
    if not rest:
        return found
    table = sql.Identifier(tenancy_settings.PUBLIC_SCHEMA, get_tenant_model()._meta.db_table)
    with public_context(), connections[using].cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT schema_name, type FROM {} WHERE schema_name = ANY(%s)").format(table),
            [rest],
        )
        found.update((name, tenant_type) for name, tenant_type in cursor.fetchall())
    return found
