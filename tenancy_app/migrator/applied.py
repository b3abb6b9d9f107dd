"""What every schema has applied, read in a handful of queries for any number of schemas.

One catalog query finds which schemas exist and which of them have a
``django_migrations`` table; then one ``UNION ALL`` query per batch of schemas reads
their applied migrations, each schema's as one aggregated text, so that schemas at the
same state share one parsed set. A schema without the table has applied nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import sql

from ..context import public_context
from .batching import batched
from .loader import Key

#: Schemas per UNION ALL query: keeps each statement and its plan small.
BATCH_SIZE = 500

_SCHEMAS = """
    SELECT n.nspname, EXISTS (
               SELECT 1 FROM pg_catalog.pg_class c
                WHERE c.relnamespace = n.oid AND c.relname = 'django_migrations'
                  AND c.relkind IN ('r', 'p')
           )
      FROM pg_catalog.pg_namespace n
     WHERE n.nspname = ANY(%s)
"""

_ONE_SCHEMA = sql.SQL(
    "SELECT %s::text, (SELECT string_agg(app || E'\\t' || name, E'\\n' ORDER BY app, name) "
    "FROM {}.django_migrations)"
)


@dataclass(frozen=True, slots=True)
class SchemaState:
    """A schema as found in the database before the run."""

    exists: bool
    has_table: bool
    recorded: frozenset[Key]


MISSING = SchemaState(exists=False, has_table=False, recorded=frozenset())
EMPTY = SchemaState(exists=True, has_table=False, recorded=frozenset())


def _parse(text: str | None) -> frozenset[Key]:
    if not text:
        return frozenset()
    pairs = (line.split("\t", 1) for line in text.split("\n"))
    return frozenset((app, name) for app, name in pairs)


def read_applied(
    schemas: Sequence[str], *, using: str = DEFAULT_DB_ALIAS, batch_size: int = BATCH_SIZE
) -> dict[str, SchemaState]:
    """Each schema's state: missing, without ``django_migrations``, or its applied set."""
    if not schemas:
        return {}
    connection = connections[using]
    result: dict[str, SchemaState] = dict.fromkeys(schemas, MISSING)
    with public_context(), connection.cursor() as cursor:
        cursor.execute(_SCHEMAS, [list(schemas)])
        with_table = []
        for name, has_table in cursor.fetchall():
            if has_table:
                with_table.append(name)
            else:
                result[name] = EMPTY
        parsed: dict[str | None, SchemaState] = {}
        for batch in batched(with_table, batch_size):
            query = sql.SQL(" UNION ALL ").join(
                _ONE_SCHEMA.format(sql.Identifier(name)) for name in batch
            )
            cursor.execute(query, list(batch))
            for name, text in cursor.fetchall():
                state = parsed.get(text)
                if state is None:
                    state = parsed[text] = SchemaState(True, True, _parse(text))
                result[name] = state
    return result
