"""One ORM queryset over many tenants: compiled once, sent as schema-qualified UNION ALL batches.

``across_tenants(Note.objects.filter(done=False))`` yields ``(tenant, note)`` for every
matching row of every active tenant; ``.count()`` and ``.aggregate(...)`` answer per
tenant. However many tenants, the queryset is compiled once by Django's own compiler,
with every table of a tenant app written as ``"<schema>"."table"`` around a placeholder
schema; each tenant's branch is that text with its schema identifier in place of the
placeholder (``psycopg.sql.Identifier``), and up to ``batch_size`` branches travel as one
``UNION ALL`` statement. Shared tables stay unqualified and are found in the public
schema, which is the statement's search_path. The SQL is plain and schema-qualified, so
it runs the same on a Citus cluster with distributed schemas.

How the tables get their schema: the query is compiled through a stand-in for the
connection whose compilers write the FROM and JOIN items of tenant tables with the
placeholder schema (and keep their own name as the alias, so column references are
unchanged). Subqueries, ``Exists``, ``union()`` and the subquery Django builds for
``count()`` of a sliced or distinct queryset go through the same compilers. SQL text the
ORM does not build (``RawSQL``, ``extra(where=...)``) is not rewritten: a table named
there would be read from the public schema.

Tenants whose schema lacks a table the query reads (gone, or behind on migrations) are
left out, not failed: one catalog query per call finds them, and ``skipped`` lists them.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any, Generic, TypeVar

from django.apps import apps
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Count, Model, QuerySet
from django.db.models.sql.compiler import SQLCompiler
from django.db.models.sql.constants import GET_ITERATOR_CHUNK_SIZE, MULTI
from django.db.models.sql.datastructures import BaseTable, Join
from django.db.models.sql.query import Query
from psycopg import sql

from .context import public_context
from .models import TenantBase, TenantStatus, get_tenant_model
from .names import validate_schema_name
from .routers import tenant_app_labels

__all__ = ["BATCH_SIZE", "AcrossTenants", "across_tenants"]

#: Tenants per UNION ALL statement. PostgreSQL takes a lock on every table (and index) a
#: statement reads, all held until it ends: keep well under the server's lock table.
BATCH_SIZE = 500

T = TypeVar("T")

# Stands for the schema in the compiled text; never a valid tenant schema name, so that
# a placeholder left in the text fails (no such schema) instead of reading anything.
_PLACEHOLDER = '"tenancy_app:schema"'
_aliases = itertools.count()

# Relation names are unique in a schema whatever their kind: a schema has them all when
# it has as many relations of those names.
_REACHABLE = """
    SELECT n.nspname FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relname = ANY(%s::text[]) AND n.nspname = ANY(%s::text[])
     GROUP BY n.nspname HAVING count(*) = %s
"""


@cache
def _tables_of(labels: frozenset[str]) -> frozenset[str]:
    return frozenset(
        model._meta.db_table
        for label in labels
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
        if not model._meta.proxy
    )


def tenant_tables() -> frozenset[str]:
    """The tables of every tenant app's models (those that exist in each tenant schema)."""
    return _tables_of(tenant_app_labels())


class _Compiled(Exception):
    """Raised by a qualifying compiler instead of running its query."""

    def __init__(self, compiler: SQLCompiler) -> None:
        self.compiler = compiler


class _QualifyingCompiler(SQLCompiler):
    """Writes tenant tables in FROM and JOIN as ``"<placeholder>"."table" "table"``.

    Mixed into each of Django's compiler classes (see :func:`_qualifying`). Its
    ``execute_sql`` never runs the query: it raises :class:`_Compiled`, or serves the
    rows the caller attached as ``tenancy_results``.
    """

    tenancy_results: Iterator[list[Any]] | None = None

    def compile(self, node: Any) -> Any:
        if isinstance(node, BaseTable | Join):
            stand_in: Any = self.connection
            if node.table_name in stand_in.tenancy_tables:
                stand_in.tenancy_used.add(node.table_name)
                node = copy.copy(node)
                quoted = self.connection.ops.quote_name(node.table_name)
                if node.table_alias == node.table_name:
                    node.table_alias = quoted
                node.table_name = f"{_PLACEHOLDER}.{quoted}"
        return super().compile(node)

    def execute_sql(
        self,
        result_type: Any = MULTI,
        chunked_fetch: bool = False,
        chunk_size: int = GET_ITERATOR_CHUNK_SIZE,
    ) -> Any:
        if self.tenancy_results is not None and result_type == MULTI:
            return self.tenancy_results
        raise _Compiled(self)


@cache
def _qualifying(compiler_class: type[SQLCompiler]) -> type[SQLCompiler]:
    return type(f"Qualifying{compiler_class.__name__}", (_QualifyingCompiler, compiler_class), {})


class _Operations:
    """The connection's operations, with qualifying compilers."""

    def __init__(self, ops: Any) -> None:
        self._ops = ops

    def compiler(self, compiler_name: str) -> type[SQLCompiler]:
        return _qualifying(self._ops.compiler(compiler_name))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ops, name)


class _StandIn:
    """Stands for the database connection while a query is compiled (never executes)."""

    def __init__(self, connection: Any, tables: frozenset[str]) -> None:
        self._connection = connection
        self.ops = _Operations(connection.ops)
        self.tenancy_tables = tables
        self.tenancy_used: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


@contextmanager
def _compiling(using: str) -> Iterator[tuple[str, _StandIn]]:
    """A connection alias, valid in this block and this thread only, naming the stand-in.

    Django's ORM looks compilers up by alias (the subquery of an aggregate, combined
    queries); registering the stand-in under an alias of its own sends them all to it.
    """
    alias = f"tenancy_across_{next(_aliases)}"
    stand_in = _StandIn(connections[using], tenant_tables())
    connections[alias] = stand_in  # type: ignore[assignment]
    try:
        yield alias, stand_in
    finally:
        del connections[alias]


# Where a leading column could change what the query means: positions in ORDER BY and
# GROUP BY (Django writes "GROUP BY 1"), DISTINCT, set operations. Then the branch wraps
# the query instead; any match, even a false one, only costs that wrapper.
_POSITIONAL = re.compile(r"\b(?:ORDER BY|GROUP BY|DISTINCT|UNION|INTERSECT|EXCEPT)\b")
_SELECT = "SELECT "


class _Text:
    """Compiled SQL with the placeholder schema; renders one tenant's branch.

    The branch numbers its rows with a leading ``tenancy_position`` column: put in the
    query's own select list when nothing in it refers to columns by position (a plain
    query, a count, an aggregate: PostgreSQL plans that like the query itself), else
    around it as ``SELECT n, q.* FROM (...) AS q``, which costs a subquery scan per
    branch. The schema goes in as the text ``sql.Identifier`` renders for it (a
    ``Composed`` per tenant took longer than planning the statement).
    """

    def __init__(self, text: str, params: Iterable[Any]) -> None:
        self.inline = text.startswith(_SELECT) and not _POSITIONAL.search(text)
        body = text[len(_SELECT) :] if self.inline else text
        self.parts = body.split(_PLACEHOLDER)
        self.params = list(params)

    def branch(self, position: int, identifier: str) -> str:
        """Tenant number ``position``'s branch, its tables in the schema ``identifier``."""
        query = identifier.join(self.parts)
        if self.inline:
            return f"SELECT {position:d} AS tenancy_position, {query}"
        return f"SELECT {position:d} AS tenancy_position, q.* FROM ({query}) AS q"  # noqa: S608


def _serving(query: Query, compiler: SQLCompiler) -> Query:
    """A copy of ``query`` whose ``get_compiler`` hands out ``compiler`` (for Django's
    iterables, which build model instances, dicts or tuples from its rows)."""
    served = query.clone()
    served.__class__ = _serving_class(type(query))
    served.tenancy_compiler = compiler  # type: ignore[attr-defined]
    return served


_serving_classes: dict[type[Query], type[Query]] = {}


def _serving_class(query_class: type[Query]) -> type[Query]:
    def get_compiler(self: Any, *args: Any, **kwargs: Any) -> SQLCompiler:
        compiler: SQLCompiler = self.tenancy_compiler
        return compiler

    if query_class not in _serving_classes:
        _serving_classes[query_class] = type(
            f"Serving{query_class.__name__}", (query_class,), {"get_compiler": get_compiler}
        )
    return _serving_classes[query_class]


class AcrossTenants(Generic[T]):
    """A queryset over many tenants: iterate for ``(tenant, row)``; ``count()``,
    ``aggregate()`` per tenant. Made by :func:`across_tenants`."""

    def __init__(
        self, queryset: QuerySet[Any, T], tenants: list[TenantBase], batch_size: int
    ) -> None:
        self.queryset = queryset
        self.tenants = tenants
        self.batch_size = batch_size
        #: Tenants left out of the last result: their schema lacks a table the query reads.
        self.skipped: list[TenantBase] = []

    @property
    def using(self) -> str:
        return self.queryset.db

    # Results ---------------------------------------------------------------------------

    def __iter__(self) -> Iterator[tuple[TenantBase, T]]:
        """``(tenant, row)`` for every row, a row being what the queryset yields (a model
        instance, a dict of ``values()``, a tuple of ``values_list()``...).

        Each tenant's rows come in the queryset's order; the tenants follow each other
        in batches of ``batch_size``. Instances are read in the public context: change
        one inside ``tenant_context(tenant)``.
        """
        with _compiling(self.using) as (alias, stand_in):
            query = self.queryset.query.chain()
            compiler = query.get_compiler(using=alias)
            try:
                text, params = compiler.as_sql()
            except EmptyResultSet:
                return
        tenants = self._reachable(stand_in.tenancy_used)
        owners: deque[TenantBase] = deque()
        trim = compiler.col_count if compiler.has_extra_select else None

        def chunks() -> Iterator[list[Any]]:
            for chunk in self._rows(_Text(text, params), tenants, chunked=True):
                owners.extend(tenants[row[0]] for row in chunk)
                yield [row[1:][:trim] if trim else row[1:] for row in chunk]

        assert isinstance(compiler, _QualifyingCompiler)
        compiler.tenancy_results = chunks()
        queryset: Any = self.queryset._chain()  # type: ignore[attr-defined]
        queryset._query = _serving(query, compiler)  # not .query: its setter resets values_list
        for item in queryset._iterable_class(queryset, chunked_fetch=True):
            yield owners.popleft(), item

    def count(self) -> dict[TenantBase, int]:
        """The number of rows of each tenant, like ``QuerySet.count()``."""
        return {
            tenant: values["__count"]
            for tenant, values in self._aggregate({"__count": Count("*")}).items()
        }

    def aggregate(self, *args: Any, **kwargs: Any) -> dict[TenantBase, dict[str, Any]]:
        """Each tenant's ``QuerySet.aggregate(*args, **kwargs)``."""
        if self.queryset.query.distinct_fields:
            raise NotImplementedError("aggregate() + distinct(fields) not implemented.")
        for arg in args:
            try:
                kwargs[arg.default_alias] = arg
            except (AttributeError, TypeError) as exc:
                raise TypeError("Complex aggregates require an alias") from exc
        return self._aggregate(kwargs)

    # Machinery ---------------------------------------------------------------------------

    def _aggregate(self, aggregates: dict[str, Any]) -> dict[TenantBase, dict[str, Any]]:
        with _compiling(self.using) as (alias, stand_in):
            try:
                self.queryset.query.chain().get_aggregation(alias, aggregates)
            except _Compiled as compiled:
                compiler = compiled.compiler
            else:  # pragma: no cover - Django always asks for the row
                raise AssertionError("the aggregation ran no query")
            columns = compiler.query.annotation_select
            try:
                text, params = compiler.as_sql()
            except EmptyResultSet:
                empty = [expression.empty_result_set_value for expression in columns.values()]
                self.skipped = []
                return {tenant: dict(zip(columns, empty, strict=True)) for tenant in self.tenants}
        tenants = self._reachable(stand_in.tenancy_used)
        converters = compiler.get_converters(list(columns.values()))
        results: dict[TenantBase, dict[str, Any]] = {}
        for chunk in self._rows(_Text(text, params), tenants, chunked=False):
            rows = [row[1:][: compiler.col_count] for row in chunk]
            if converters:
                rows = list(compiler.apply_converters(rows, converters))
            for position, values in zip((row[0] for row in chunk), rows, strict=True):
                results[tenants[position]] = dict(zip(columns, values, strict=True))
        return results

    def _reachable(self, tables: set[str]) -> list[TenantBase]:
        """The tenants whose schema has every table in ``tables`` (one catalog query)."""
        names = [tenant.schema_name for tenant in self.tenants]
        if not tables or not names:
            self.skipped = []
            return list(self.tenants)
        with public_context(), connections[self.using].cursor() as cursor:
            cursor.execute(_REACHABLE, [sorted(tables), names, len(tables)])
            found = {row[0] for row in cursor.fetchall()}
        self.skipped = [tenant for tenant in self.tenants if tenant.schema_name not in found]
        return [tenant for tenant in self.tenants if tenant.schema_name in found]

    def _rows(self, text: _Text, tenants: list[TenantBase], *, chunked: bool) -> Iterator[Any]:
        """Chunks of ``(position, *columns)`` rows, one UNION ALL statement per batch."""
        connection = connections[self.using]
        connection.ensure_connection()
        raw = connection.connection
        identifiers = [sql.Identifier(tenant.schema_name).as_string(raw) for tenant in tenants]
        for start in range(0, len(tenants), self.batch_size):
            batch = range(start, min(start + self.batch_size, len(tenants)))
            rendered = " UNION ALL ".join(text.branch(i, identifiers[i]) for i in batch)
            # The public context is entered around each statement, never across a yield:
            # a context entered in a generator would stay active in the caller's code.
            cursor = connection.chunked_cursor() if chunked else connection.cursor()
            try:
                with public_context():
                    cursor.execute(rendered, text.params * len(batch))
                while True:
                    with public_context():
                        chunk = cursor.fetchmany(GET_ITERATOR_CHUNK_SIZE)
                    if not chunk:
                        break
                    yield chunk
            finally:
                cursor.close()


def _tenants(tenants: Iterable[TenantBase] | None, using: str) -> list[TenantBase]:
    if tenants is None:
        with public_context():
            tenants = list(
                get_tenant_model()
                ._default_manager.using(using)
                .filter(status=TenantStatus.ACTIVE)
                .order_by("schema_name")
            )
    else:
        with public_context():
            tenants = list(tenants)
    unique = list({tenant.schema_name: tenant for tenant in tenants}.values())
    for tenant in unique:
        validate_schema_name(tenant.schema_name)
    return unique


def across_tenants(
    queryset: QuerySet[Any, T],
    tenants: Iterable[TenantBase] | None = None,
    *,
    batch_size: int = BATCH_SIZE,
) -> AcrossTenants[T]:
    """``queryset`` (of a tenant app's model) over ``tenants``: default, every active tenant.

    ``tenants`` may be a queryset of the tenant model or any iterable of tenants; each
    schema name is validated before any SQL. Raises ``ValueError`` for querysets that
    cannot be run this way: a model that is not a tenant app's, ``prefetch_related()``
    (its queries would run in one schema), ``extra(tables=...)`` and
    ``select_for_update()``.
    """
    model: type[Model] = queryset.model
    if model._meta.db_table not in tenant_tables():
        raise ValueError(
            f"{model._meta.label} is not a model of a tenant app (TENANCY['TENANT_APPS']): "
            "its table is not in the tenant schemas."
        )
    query = queryset.query
    if queryset._prefetch_related_lookups:  # type: ignore[attr-defined]
        raise ValueError(
            "across_tenants() does not support prefetch_related(): its queries would run "
            "in one schema. Use select_related(), or a second across_tenants()."
        )
    if query.extra_tables:
        raise ValueError("across_tenants() does not support extra(tables=...).")
    if query.select_for_update:
        raise ValueError("across_tenants() reads only: select_for_update() is not supported.")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    return AcrossTenants(queryset, _tenants(tenants, queryset.db), batch_size)
