"""Whether a unique violation means that a registry value is taken, and which one.

Registering a tenant can violate a unique constraint for reasons other than a taken
schema name or domain: a primary key whose sequence is behind the table's rows (Citus
resets the sequences of the tables it converts, see :mod:`tenancy_app.citus.reference`),
a constraint of the project's own tenant model. Only a violation of the unique index on
the tenant's ``schema_name`` or the domain's ``domain`` column is "already exists"; the
violated index is read from the error's diagnostics and its columns from the catalog.

On Citus the error comes from a shard: the index is named like the table's own with the
shard id appended (``tenancy_app_domain_domain_key_102063``), and shards are hidden from
the catalog, so the name without that suffix is looked up too. An error raised on a
worker (a write to a reference table) reaches the client without its diagnostics; then
the registry is asked whether the schema name or the domain is there.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import psycopg
from django.db import DEFAULT_DB_ALIAS, DatabaseError, IntegrityError, connections

from .context import public_context
from .models import get_domain_model, get_tenant_model

__all__ = ["taken_registry_field"]

TakenField = Literal["schema_name", "domain"]

_INDEX_COLUMNS = (
    "SELECT t.relname, array_agg(a.attname ORDER BY a.attname) "
    "FROM pg_catalog.pg_index x "
    "JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid "
    "JOIN pg_catalog.pg_class t ON t.oid = x.indrelid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = i.relnamespace "
    "JOIN pg_catalog.pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = ANY(x.indkey) "
    "WHERE n.nspname = %s AND i.relname = ANY(%s) "
    "GROUP BY t.relname, i.relname "
    "ORDER BY i.relname = %s DESC "
    "LIMIT 1"
)
_SHARD_SUFFIX = re.compile(r"^(?P<name>.+)_\d+$")


def taken_registry_field(
    exc: IntegrityError,
    *,
    schema_name: str | None,
    domain: str | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> TakenField | None:
    """``"schema_name"`` or ``"domain"`` when ``exc`` is a unique violation of that
    registry column (for the ``schema_name`` or ``domain`` being registered), else
    ``None`` (another constraint, or not a unique violation).

    Call it outside the failed transaction (or savepoint): it runs one or two queries.
    """
    cause = exc.__cause__
    if not isinstance(cause, psycopg.errors.UniqueViolation):
        return None
    index, schema = cause.diag.constraint_name, cause.diag.schema_name
    if not index or not schema:
        return _registered(schema_name, domain, using)
    try:
        with connections[using].cursor() as cursor:
            shard = _SHARD_SUFFIX.match(index)
            names = [index, shard.group("name")] if shard else [index]
            cursor.execute(_INDEX_COLUMNS, [schema, names, index])
            row = cursor.fetchone()
    except DatabaseError:
        return None
    if row is None:
        return None
    table, columns = row[0], list(row[1])
    tenant_meta, domain_meta = get_tenant_model()._meta, get_domain_model()._meta
    if table == tenant_meta.db_table and columns == [tenant_meta.get_field("schema_name").column]:
        return "schema_name"
    if table == domain_meta.db_table and columns == [domain_meta.get_field("domain").column]:
        return "domain"
    return None


def _registered(schema_name: str | None, domain: str | None, using: str) -> TakenField | None:
    """Which of ``schema_name`` and ``domain`` another tenant has in the registry."""
    tenants: Any = get_tenant_model()._default_manager.using(using)
    domains: Any = get_domain_model()._default_manager.using(using)
    with public_context():
        if schema_name is not None and tenants.filter(schema_name=schema_name).exists():
            return "schema_name"
        if domain is not None and domains.filter(domain=domain).exists():
            return "domain"
    return None
