"""Shared tables that tenant tables reference, made Citus reference tables.

A tenant table lives on one worker; a foreign key from it to a shared table (a tenant
model pointing at the tenant registry, a shared lookup table) is refused by Citus until
the shared table is a *reference table*, copied to every node. The tables concerned are
found from the models: those of shared-only apps that a tenant app's model references
with a database constraint, plus the shared-only tables those reference in turn (a
reference table may only reference reference tables), ordered so that a table comes
after the tables it references.

Making a table a reference table has a side effect that :func:`make_reference_tables`
repairs: Citus turns the plain tables connected to it by foreign keys (the domain table,
which references the registry) into local Citus tables and, in doing so, resets their
identity sequences, so the next insert would collide with an existing id. The positions
of the shared schema's sequences are read first and put back afterwards, in the same
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction

from ..conf import tenancy_settings
from ..context import public_context
from ..exceptions import TenantError
from ..routers import shared_app_labels, tenant_app_labels
from .detection import is_citus, require_citus

__all__ = [
    "ReferenceTablesResult",
    "SharedReference",
    "make_reference_tables",
    "missing_reference_tables",
    "shared_tables_referenced_by_tenants",
]


@dataclass(frozen=True)
class SharedReference:
    """A shared table that must be a reference table, and the fields that make it so."""

    table: str
    #: ``app_label.Model.field`` of each foreign key pointing at it (tenant or shared)
    referenced_by: tuple[str, ...]


@dataclass(frozen=True)
class ReferenceTablesResult:
    #: tables made reference tables, in the order they were made
    made: list[str]
    #: shared tables Citus turned into local Citus tables on the way
    made_local: list[str]
    #: ``(sequence, position)`` put back where they were before
    restored_sequences: list[tuple[str, int]]


def _constrained_targets(model: type[models.Model]) -> list[tuple[type[models.Model], str]]:
    """The models ``model``'s foreign keys point at with a database constraint."""
    found = []
    for field in model._meta.local_fields:
        related = field.related_model
        if field.remote_field is None or not isinstance(related, type):
            continue
        if getattr(field, "db_constraint", False):
            found.append((related, f"{model._meta.label}.{field.name}"))
    return found


def _has_table(model: type[models.Model]) -> bool:
    meta = model._meta
    return meta.managed and not meta.proxy and not meta.swapped


def shared_tables_referenced_by_tenants() -> list[SharedReference]:
    """Shared-only tables that tenant tables reference, referenced tables first.

    Read from the models (no SQL): foreign keys, one-to-one fields and many-to-many
    tables of the tenant apps that point at a model of an app listed only in
    ``SHARED_APPS``, then the shared-only tables those point at, transitively.
    """
    shared_only = shared_app_labels() - tenant_app_labels()
    tenant_labels = tenant_app_labels()
    referenced_by: dict[type[models.Model], list[str]] = {}
    for model in apps.get_models(include_auto_created=True):
        if model._meta.app_label not in tenant_labels or not _has_table(model):
            continue
        for target, field in _constrained_targets(model):
            if target._meta.app_label in shared_only and _has_table(target):
                referenced_by.setdefault(target, []).append(field)
    ordered: list[type[models.Model]] = []

    def visit(model: type[models.Model], seen: set[type[models.Model]]) -> None:
        if model in ordered or model in seen:
            return
        seen.add(model)
        for target, field in _constrained_targets(model):
            if target is model or target._meta.app_label not in shared_only:
                continue
            if not _has_table(target):
                continue
            referenced_by.setdefault(target, []).append(field)
            visit(target, seen)
        ordered.append(model)

    for model in sorted(referenced_by, key=lambda m: m._meta.label):
        visit(model, set())
    return [
        SharedReference(model._meta.db_table, tuple(dict.fromkeys(referenced_by[model])))
        for model in ordered
    ]


_MISSING = """
SELECT t.name
FROM unnest(%s::text[]) WITH ORDINALITY AS t(name, position)
WHERE NOT EXISTS (
    SELECT FROM pg_catalog.pg_dist_partition p
    JOIN pg_catalog.pg_class c ON c.oid = p.logicalrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = %s AND c.relname = t.name AND p.repmodel = 't'
)
ORDER BY t.position
"""


def missing_reference_tables(*, using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """The shared tables tenant tables reference that are not reference tables yet.

    Empty on a plain PostgreSQL server. One query (after the cached Citus detection).
    """
    tables = [reference.table for reference in shared_tables_referenced_by_tenants()]
    if not tables or not is_citus(using=using):
        return []
    with public_context(), connections[using].cursor() as cursor:
        cursor.execute(_MISSING, [tables, tenancy_settings.PUBLIC_SCHEMA])
        return [row[0] for row in cursor.fetchall()]


_SEQUENCES = (
    "SELECT c.relname, pg_catalog.pg_sequence_last_value(c.oid) FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = %s AND c.relkind = 'S'"
)
_IN_METADATA = (
    "SELECT c.relname FROM pg_catalog.pg_dist_partition p "
    "JOIN pg_catalog.pg_class c ON c.oid = p.logicalrelid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = %s AND p.colocationid = 0"
)
# The table is found through the catalog: its name is never formatted into SQL.
_MAKE_REFERENCE = (
    "SELECT pg_catalog.create_reference_table(c.oid::pg_catalog.regclass) "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = %s AND c.relname = %s AND c.relkind = 'r'"
)
_SETVAL = (
    "SELECT pg_catalog.setval(c.oid::pg_catalog.regclass, %s, true) "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = %s AND c.relname = %s AND c.relkind = 'S'"
)


def _read(cursor: Any, query: str, schema: str) -> list[tuple[Any, ...]]:
    cursor.execute(query, [schema])
    return list(cursor.fetchall())


def make_reference_tables(*, using: str = DEFAULT_DB_ALIAS) -> ReferenceTablesResult:
    """Make every shared table that tenant tables reference a Citus reference table.

    In one transaction: the tables of :func:`missing_reference_tables`, referenced
    tables first, then every sequence of the shared schema that Citus moved backwards
    is put back where it was. Does nothing when all are reference tables already.
    Raises :class:`~tenancy_app.exceptions.NotOnCitus` on a plain server, and
    :class:`~tenancy_app.exceptions.TenantError` when a table does not exist yet
    (migrate the shared schema first).
    """
    require_citus(using=using)
    missing = missing_reference_tables(using=using)
    if not missing:
        return ReferenceTablesResult([], [], [])
    public = tenancy_settings.PUBLIC_SCHEMA
    restored: list[tuple[str, int]] = []
    with (
        public_context(),
        transaction.atomic(using=using),
        connections[using].cursor() as cursor,
    ):
        positions = dict(_read(cursor, _SEQUENCES, public))
        local_before = {row[0] for row in _read(cursor, _IN_METADATA, public)}
        for table in missing:
            cursor.execute(_MAKE_REFERENCE, [public, table])
            if cursor.fetchone() is None:
                raise TenantError(
                    f"The shared table {public}.{table} does not exist yet: migrate the shared "
                    "schema first (`manage.py migrate_schemas --shared`), or run "
                    "`manage.py migrate_schemas --reference-tables`, which does both in order."
                )
        for sequence, position in _read(cursor, _SEQUENCES, public):
            before = positions.get(sequence)
            if before is not None and (position is None or position < before):
                cursor.execute(_SETVAL, [before, public, sequence])
                restored.append((sequence, before))
        made_local = sorted(
            row[0] for row in _read(cursor, _IN_METADATA, public) if row[0] not in local_before
        )
    return ReferenceTablesResult(missing, made_local, restored)
