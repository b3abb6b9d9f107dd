"""Migrating schemas: the migrate_schemas engine, and Django's migrate in one schema.

:func:`migrate_schemas` (the engine, see :mod:`.engine`) brings many schemas to the
current migration state with one plan per group of schemas at the same state;
:func:`migrate_schema` runs Django's own ``migrate`` in one schema (provisioning uses it).
"""

from __future__ import annotations

from io import TextIOBase
from typing import IO, TYPE_CHECKING, Any

from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS

from ..conf import tenancy_settings
from ..context import Activation, public_context, schema_context, tenant_context
from ..exceptions import SchemaNotFound
from ..schemas import schema_exists
from .engine import MigrationRun, migrate_schemas
from .results import Outcome, SchemaResult

if TYPE_CHECKING:
    from ..models import TenantBase

__all__ = ["MigrationRun", "Outcome", "SchemaResult", "migrate_schema", "migrate_schemas"]


def migrate_schema(
    schema_name: str,
    *args: str,
    using: str = DEFAULT_DB_ALIAS,
    verbosity: int = 0,
    stdout: IO[str] | TextIOBase | None = None,
    tenant: TenantBase | None = None,
    **options: Any,
) -> None:
    """Run Django's ``migrate`` (with its positional ``args`` and ``options``) in one schema.

    In the public schema only shared apps create tables, in a tenant schema only tenant
    apps (see the router); each schema's own ``django_migrations`` records what ran.
    With ``tenant`` (whose schema ``schema_name`` is) the tenant is active while it runs,
    as in a request.
    """
    if schema_name != tenancy_settings.PUBLIC_SCHEMA:
        with public_context():
            if not schema_exists(schema_name, using=using):
                # Without the schema, PostgreSQL would resolve names in the next schema
                # on the search_path, the shared one: refuse instead.
                raise SchemaNotFound(f"The schema {schema_name!r} does not exist.")
    activation: Activation = (
        tenant_context(tenant) if tenant is not None else schema_context(schema_name)
    )
    with activation:
        call_command(
            "migrate",
            *args,
            database=using,
            verbosity=verbosity,
            interactive=False,
            stdout=stdout,
            **options,
        )
