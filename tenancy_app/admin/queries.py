"""The SQL behind the tenant admin: list annotations and schema statistics.

Every column of the tenant list comes from the list's own query (subqueries per row),
so a page costs the same number of statements whatever its size. A schema's relations
are found through ``pg_depend`` (each table, view and sequence records a dependency on
its schema, which ``DROP SCHEMA`` itself follows), an index lookup, rather than by
scanning ``pg_class``, whose size grows with every tenant schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from ..context import public_context
from ..models import SchemaMigrationResult, get_domain_model

#: Values of the ``admin_migration_state`` annotation (and of the list filter).
UP_TO_DATE, PENDING, FAILED, NEVER = "up_to_date", "pending", "failed", "never"


class SchemaSize(Func):
    """Bytes on disk of a schema's relations with their indexes and TOAST (0 if missing).

    The relations are those that record a dependency on the schema in pg_depend (tables,
    views, sequences; indexes and TOAST tables are counted with their table).
    """

    template = (
        "(SELECT COALESCE(SUM(pg_catalog.pg_total_relation_size(d.objid)), 0)::bigint "
        "FROM pg_catalog.pg_depend d "
        "WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass "
        "AND d.refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass "
        "AND d.deptype = 'n' "
        "AND d.refobjid = "
        "(SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = %(expressions)s))"
    )
    output_field = BigIntegerField()
    arity = 1


def _last_result(field: str) -> Subquery:
    return Subquery(
        SchemaMigrationResult.objects.filter(schema_name=OuterRef("schema_name")).values(field)[:1]
    )


def migration_state() -> Case:
    """``up_to_date`` / ``pending`` / ``failed`` / ``never`` from the last migration result."""
    return Case(
        When(admin_migration_status__isnull=True, then=Value(NEVER)),
        When(admin_migration_status=SchemaMigrationResult.Status.FAILED, then=Value(FAILED)),
        When(admin_migration_pending__gt=0, then=Value(PENDING)),
        default=Value(UP_TO_DATE),
        output_field=CharField(),
    )


def state_of(status: str | None, pending: int | None) -> str:
    """The migration state of a tenant, from its annotated last result (as in SQL above)."""
    if status is None:
        return NEVER
    if status == SchemaMigrationResult.Status.FAILED:
        return FAILED
    return PENDING if pending else UP_TO_DATE


def with_list_columns(queryset: QuerySet[Any]) -> QuerySet[Any]:
    """The tenant queryset with what the list shows, each a subquery of the same statement.

    ``admin_migration_state`` is an alias: usable in filters, not selected.
    """
    domains = get_domain_model()._default_manager.filter(tenant=OuterRef("pk"), is_primary=True)
    annotated: QuerySet[Any] = queryset.annotate(
        admin_primary_domain=Subquery(domains.values("domain")[:1]),
        admin_migration_status=_last_result("status"),
        admin_migration_pending=_last_result("pending"),
        admin_migration_error=_last_result("error"),
    ).alias(admin_migration_state=migration_state())
    return annotated


def with_schema_size(queryset: QuerySet[Any]) -> QuerySet[Any]:
    annotated: QuerySet[Any] = queryset.annotate(admin_schema_size=SchemaSize(F("schema_name")))
    return annotated


def filter_migration_state(queryset: QuerySet[Any], state: str) -> QuerySet[Any]:
    """Tenants in one migration state (on a queryset from :func:`with_list_columns`)."""
    filtered: QuerySet[Any] = queryset.filter(Q(admin_migration_state=state))
    return filtered


@dataclass(frozen=True)
class SchemaStatistics:
    schema_name: str
    exists: bool
    tables: int
    #: the planner's estimate (pg_class.reltuples) summed over the analyzed tables
    estimated_rows: int
    #: tables never vacuumed or analyzed, whose row count PostgreSQL does not estimate yet
    tables_not_analyzed: int
    size: int


_STATISTICS = (
    "SELECT s.name, n.oid IS NOT NULL, "
    "count(c.oid) FILTER (WHERE c.relkind IN ('r', 'p')), "
    "COALESCE(sum(c.reltuples) FILTER (WHERE c.relkind = 'r' AND c.reltuples > 0), 0)::bigint, "
    "count(c.oid) FILTER (WHERE c.relkind = 'r' AND c.reltuples < 0), "
    "COALESCE(sum(pg_catalog.pg_total_relation_size(c.oid)), 0)::bigint "
    "FROM unnest(%s::text[]) AS s(name) "
    "LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = s.name "
    "LEFT JOIN pg_catalog.pg_depend d "
    "ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass "
    "AND d.refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass "
    "AND d.deptype = 'n' AND d.refobjid = n.oid "
    "LEFT JOIN pg_catalog.pg_class c ON c.oid = d.objid "
    "GROUP BY s.name, n.oid"
)


def schema_statistics(
    schema_names: list[str], *, using: str = DEFAULT_DB_ALIAS
) -> dict[str, SchemaStatistics]:
    """Tables, estimated rows and size on disk of each schema, in one statement."""
    if not schema_names:
        return {}
    with public_context(), connections[using].cursor() as cursor:
        cursor.execute(_STATISTICS, [list(schema_names)])
        return {row[0]: SchemaStatistics(*row) for row in cursor.fetchall()}
