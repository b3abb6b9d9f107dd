"""Checks that need the database: what Citus requires of the shared schema."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.checks import Tags, Warning, register
from django.db import connections

from ..citus import missing_reference_tables, shared_tables_referenced_by_tenants
from ..conf import tenancy_settings
from .common import AppConfigs, Messages, lists_are_valid


@register(Tags.database)
def check_reference_tables(
    app_configs: AppConfigs = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> Messages:
    """tenancy.W141: on Citus, shared tables that tenant tables reference are reference tables.

    A database check (``manage.py check --database default``; ``migrate_schemas`` runs it):
    one query per database after the cached Citus detection, none on a plain server.
    """
    if not databases or not lists_are_valid():
        return []
    references = {reference.table: reference for reference in shared_tables_referenced_by_tenants()}
    if not references:
        return []
    public = tenancy_settings.PUBLIC_SCHEMA
    messages: Messages = []
    for alias in databases:
        if connections[alias].vendor != "postgresql":
            continue
        for table in missing_reference_tables(using=alias):
            fields = ", ".join(references[table].referenced_by)
            messages.append(
                Warning(
                    f"Database {alias!r} is a Citus coordinator and tenant tables reference the "
                    f"shared table {public}.{table} ({fields}), which is not a reference table: "
                    "Citus refuses such foreign keys, so the tenant schemas cannot be migrated.",
                    hint="Run `manage.py migrate_schemas --reference-tables` (it makes the "
                    "shared tables reference tables between the shared and the tenant "
                    "schemas), or `manage.py make_reference_tables` once the shared schema is "
                    "migrated. See docs/scaling-out.rst.",
                    id="tenancy.W141",
                )
            )
    return messages
