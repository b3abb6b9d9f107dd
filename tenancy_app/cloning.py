"""Copy a schema's structure (and chosen rows) into a new schema with top-level SQL only.

The source schema's catalog is read once (:func:`read_catalog`) and turned into a DDL
script (:func:`build_clone_script`): sequences, tables with their columns, identity
columns and defaults, the rows to copy, sequence positions, then primary keys, unique,
check and exclusion constraints, indexes, foreign keys, views and comments, every
object under the name it has in the source. No PL/pgSQL function and no ``DO`` block is
involved, so on a Citus cluster with schema-based sharding the new tables are
distributed like tables made by migrations.

How names are made safe: the catalog is read with ``search_path`` set to the source
schema alone, so the server's own definitions (``pg_get_constraintdef``,
``pg_get_indexdef``, ``pg_get_expr``, ``format_type``, ``pg_get_viewdef``) name the
source's objects without a schema and everything else with one (``public.x``). The
script runs with ``search_path`` set to the new schema alone, where those unqualified
names land. Every name this module puts into SQL goes through ``sql.Identifier``; the
server-produced definitions are composed around them with ``sql.SQL``; comments are
``sql.Literal``. A schema name is never formatted into SQL as text.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import sql

from .citus import is_citus
from .context import schema_context
from .exceptions import CloneNotSupported

__all__ = [
    "CloneScript",
    "SchemaCatalog",
    "build_clone_script",
    "read_catalog",
    "run_clone_script",
    "tables_with_rows",
]


@cache
def _query(name: str) -> str:
    """The query of ``sql/<name>.sql`` without its comment lines.

    The comments document the file and are never sent: client-side binding fills in
    placeholders wherever they are, so a value with a newline could end a comment that
    held one. (The files name their parameters in words, and have no trailing comments.)
    """
    text = resources.files("tenancy_app").joinpath("sql", f"{name}.sql").read_text()
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    collation: str | None
    not_null: bool
    not_null_name: str | None
    identity: str  # "" | "a" (ALWAYS) | "d" (BY DEFAULT)
    generated: str  # "" | "s" (STORED) | "v" (VIRTUAL)
    default: str | None
    comment: str | None


@dataclass(frozen=True, slots=True)
class Sequence:
    name: str
    type: str
    start: int
    increment: int
    minimum: int
    maximum: int
    cache: int
    cycle: bool
    owner_table: str | None
    owner_column: str | None
    is_identity: bool
    is_called: bool


@dataclass(slots=True)
class Relation:
    name: str
    kind: str  # "r" table, "v" view
    unlogged: bool
    view_definition: str | None
    comment: str | None
    columns: list[Column] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Constraint:
    table: str
    name: str
    type: str  # "p", "u", "c", "x", "f"
    definition: str


@dataclass(frozen=True, slots=True)
class Index:
    table: str
    name: str
    unique: bool
    body: str  # the definition after "USING ": "btree (col)", with any WHERE/INCLUDE


@dataclass(slots=True)
class SchemaCatalog:
    """What :func:`build_clone_script` needs to know about one schema."""

    schema: str
    relations: list[Relation]
    sequences: list[Sequence]
    constraints: list[Constraint]
    indexes: list[Index]

    @property
    def tables(self) -> list[Relation]:
        return [relation for relation in self.relations if relation.kind == "r"]


@dataclass(frozen=True, slots=True)
class CloneScript:
    """A rendered clone script: SQL that runs with the new schema as search_path.

    ``text`` is every statement in one string, sent in one round trip on a plain server;
    ``statements`` are the same one by one, for Citus (see :func:`run_clone_script`).
    """

    source: str
    text: str
    statements: tuple[str, ...]

    @property
    def statement_count(self) -> int:
        return len(self.statements)


def _fetch(cursor: Any, name: str, schema: str) -> list[tuple[Any, ...]]:
    cursor.execute(_query(name), {"schema": schema})
    return list(cursor.fetchall())


def read_catalog(schema: str, *, using: str = DEFAULT_DB_ALIAS) -> SchemaCatalog:
    """Read everything needed to clone ``schema`` (six catalog queries).

    Raises :class:`~tenancy_app.exceptions.CloneNotSupported` when the schema holds
    objects a clone does not reproduce (functions, triggers, types, ...).
    """
    with schema_context(schema, include_public=False), connections[using].cursor() as cursor:
        refused = _fetch(cursor, "clone_refusals", schema)
        if refused:
            raise CloneNotSupported(schema, [f"{kind} {name}" for kind, name in refused])
        relations = {
            row[0]: Relation(row[0], row[1], row[2], row[3], row[4])
            for row in _fetch(cursor, "clone_relations", schema)
        }
        for row in _fetch(cursor, "clone_columns", schema):
            relations[row[0]].columns.append(Column(*row[1:]))
        sequences = [Sequence(*row) for row in _fetch(cursor, "clone_sequences", schema)]
        constraints = [Constraint(*row) for row in _fetch(cursor, "clone_constraints", schema)]
        indexes = []
        for table, name, unique, definition, prefix in _fetch(cursor, "clone_indexes", schema):
            if not definition.startswith(prefix):
                raise CloneNotSupported(schema, [f"index {name} (unexpected definition)"])
            indexes.append(Index(table, name, unique, definition[len(prefix) :]))
    return SchemaCatalog(schema, list(relations.values()), sequences, constraints, indexes)


def tables_with_rows(
    schema: str, tables: Iterable[str], *, using: str = DEFAULT_DB_ALIAS
) -> set[str]:
    """The names among ``tables`` (of ``schema``) that hold at least one row; one query."""
    parts = [
        sql.SQL("SELECT {} WHERE EXISTS (SELECT FROM {}.{})").format(
            sql.Literal(table), sql.Identifier(schema), sql.Identifier(table)
        )
        for table in tables
    ]
    if not parts:
        return set()
    with connections[using].cursor() as cursor:
        cursor.execute(sql.SQL(" UNION ALL ").join(parts))
        return {row[0] for row in cursor.fetchall()}


def _sequence_options(sequence: Sequence) -> sql.Composed:
    return sql.SQL("START WITH {} INCREMENT BY {} MINVALUE {} MAXVALUE {} CACHE {} {}").format(
        sql.Literal(sequence.start),
        sql.Literal(sequence.increment),
        sql.Literal(sequence.minimum),
        sql.Literal(sequence.maximum),
        sql.Literal(sequence.cache),
        sql.SQL("CYCLE" if sequence.cycle else "NO CYCLE"),
    )


def _column_definition(column: Column, identity: Sequence | None) -> sql.Composed:
    """``name type [COLLATE c] [CONSTRAINT n] NOT NULL [DEFAULT e | GENERATED ...]``."""
    parts: list[sql.Composable] = [sql.Identifier(column.name), sql.SQL(column.type)]
    if column.collation:
        parts.append(sql.SQL("COLLATE {}").format(sql.SQL(column.collation)))
    if column.not_null_name:
        parts.append(sql.SQL("CONSTRAINT {} NOT NULL").format(sql.Identifier(column.not_null_name)))
    elif column.not_null:
        parts.append(sql.SQL("NOT NULL"))
    if column.identity:
        assert identity is not None, "checked by build_clone_script"
        parts.append(
            sql.SQL("GENERATED {} AS IDENTITY (SEQUENCE NAME {} {})").format(
                sql.SQL("ALWAYS" if column.identity == "a" else "BY DEFAULT"),
                sql.Identifier(identity.name),
                _sequence_options(identity),
            )
        )
    elif column.generated and column.default is not None:
        parts.append(
            sql.SQL("GENERATED ALWAYS AS ({}) {}").format(
                sql.SQL(column.default),
                sql.SQL("VIRTUAL" if column.generated == "v" else "STORED"),
            )
        )
    elif column.default is not None:
        parts.append(sql.SQL("DEFAULT {}").format(sql.SQL(column.default)))
    return sql.SQL(" ").join(parts)


def _comments(catalog: SchemaCatalog) -> list[sql.Composable]:
    statements: list[sql.Composable] = []
    for relation in catalog.relations:
        what = sql.SQL("VIEW" if relation.kind == "v" else "TABLE")
        if relation.comment is not None:
            statements.append(
                sql.SQL("COMMENT ON {} {} IS {}").format(
                    what, sql.Identifier(relation.name), sql.Literal(relation.comment)
                )
            )
        for column in relation.columns:
            if column.comment is not None:
                statements.append(
                    sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
                        sql.Identifier(relation.name),
                        sql.Identifier(column.name),
                        sql.Literal(column.comment),
                    )
                )
    return statements


def _add_constraints(catalog: SchemaCatalog, *, foreign_keys: bool) -> list[sql.Composable]:
    """One ``ALTER TABLE ... ADD CONSTRAINT`` per constraint: Citus refuses an ALTER TABLE
    with several ADD CONSTRAINT subcommands on a distributed table."""
    return [
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            sql.Identifier(constraint.table),
            sql.Identifier(constraint.name),
            sql.SQL(constraint.definition),
        )
        for constraint in catalog.constraints
        if (constraint.type == "f") == foreign_keys
    ]


def build_clone_script(
    catalog: SchemaCatalog,
    *,
    copy_rows_of: Collection[str] = (),
    set_sequences: str = "called",
    lock_source: bool = False,
    rows_marker: sql.Composable | None = None,
) -> list[sql.Composable]:
    """The statements that rebuild ``catalog``'s schema in the schema on the search_path.

    ``copy_rows_of`` names the tables whose rows are copied from the source (before
    constraints and indexes are added, so in any order and at bulk speed).
    ``set_sequences`` is ``"called"`` (sequences used in the source when the catalog
    was read), ``"all"`` or ``"none"``; their positions are read from the source when
    the script runs. ``rows_marker``, if given, is put in the list where rows go (after
    the tables, before constraints and indexes), for a caller that loads them itself.
    ``lock_source`` first takes SHARE locks on the source tables, so that rows
    copied table by table are consistent with each other while writers wait.
    """
    source = sql.Identifier(catalog.schema)
    statements: list[sql.Composable] = []
    tables = catalog.tables
    if lock_source and tables:
        statements.append(
            sql.SQL("LOCK TABLE {} IN SHARE MODE").format(
                sql.SQL(", ").join(
                    sql.SQL("{}.{}").format(source, sql.Identifier(t.name)) for t in tables
                )
            )
        )
    identities = {(s.owner_table, s.owner_column): s for s in catalog.sequences if s.is_identity}
    for sequence in catalog.sequences:
        if not sequence.is_identity:
            statements.append(
                sql.SQL("CREATE SEQUENCE {} AS {} {}").format(
                    sql.Identifier(sequence.name),
                    sql.SQL(sequence.type),
                    _sequence_options(sequence),
                )
            )
    for table in tables:
        for column in table.columns:
            if column.identity and (table.name, column.name) not in identities:
                raise CloneNotSupported(
                    catalog.schema,
                    [f"identity column {table.name}.{column.name} without a sequence"],
                )
        statements.append(
            sql.SQL("CREATE {}TABLE {} ({})").format(
                sql.SQL("UNLOGGED " if table.unlogged else ""),
                sql.Identifier(table.name),
                sql.SQL(", ").join(
                    _column_definition(column, identities.get((table.name, column.name)))
                    for column in table.columns
                ),
            )
        )
    for sequence in catalog.sequences:
        if not sequence.is_identity and sequence.owner_table and sequence.owner_column:
            statements.append(
                sql.SQL("ALTER SEQUENCE {} OWNED BY {}.{}").format(
                    sql.Identifier(sequence.name),
                    sql.Identifier(sequence.owner_table),
                    sql.Identifier(sequence.owner_column),
                )
            )
    if rows_marker is not None:
        statements.append(rows_marker)
    for table in tables:
        if table.name not in copy_rows_of:
            continue
        columns = sql.SQL(", ").join(
            sql.Identifier(column.name) for column in table.columns if not column.generated
        )
        statements.append(
            sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {}.{}").format(
                sql.Identifier(table.name), columns, columns, source, sql.Identifier(table.name)
            )
        )
    for sequence in catalog.sequences:
        if set_sequences == "all" or (set_sequences == "called" and sequence.is_called):
            statements.append(
                sql.SQL(
                    "SELECT pg_catalog.setval(pg_catalog.quote_ident({})::regclass, s.last_value, "
                    "s.is_called) FROM {}.{} AS s"
                ).format(sql.Literal(sequence.name), source, sql.Identifier(sequence.name))
            )
    statements.extend(_add_constraints(catalog, foreign_keys=False))
    for index in catalog.indexes:
        statements.append(
            sql.SQL("CREATE {}INDEX {} ON {} USING {}").format(
                sql.SQL("UNIQUE " if index.unique else ""),
                sql.Identifier(index.name),
                sql.Identifier(index.table),
                sql.SQL(index.body),
            )
        )
    statements.extend(_add_constraints(catalog, foreign_keys=True))
    for view in catalog.relations:
        if view.kind == "v" and view.view_definition is not None:
            statements.append(
                sql.SQL("CREATE VIEW {} AS {}").format(
                    sql.Identifier(view.name), sql.SQL(view.view_definition.strip().rstrip(";"))
                )
            )
    statements.extend(_comments(catalog))
    return statements


def render_clone_script(
    catalog: SchemaCatalog, statements: list[sql.Composable], *, using: str = DEFAULT_DB_ALIAS
) -> CloneScript:
    """Render ``statements`` once, into one SQL text and one string per statement."""
    connection = connections[using]
    connection.ensure_connection()
    rendered = tuple(statement.as_string(connection.connection) for statement in statements)
    text = ";\n".join(rendered)
    return CloneScript(catalog.schema, text + ";" if text else "", rendered)


def run_clone_script(script: CloneScript, schema: str, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Run ``script`` with ``schema`` (which must exist and be empty) as the only search_path.

    On a plain server the whole script is one round trip. On Citus each statement is
    sent on its own: Citus forwards some DDL to the worker with the query string it
    received, and a worker refuses a string of several commands ("cannot insert multiple
    commands into a prepared statement", Citus issue 6608).
    """
    if not script.statements:
        return
    one_by_one = is_citus(using=using)
    with schema_context(schema, include_public=False), connections[using].cursor() as cursor:
        if one_by_one:
            for statement in script.statements:
                cursor.execute(statement)
        else:
            cursor.execute(script.text)
