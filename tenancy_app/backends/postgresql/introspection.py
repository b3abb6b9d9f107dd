"""Introspection limited to the current schema.

Django's PostgreSQL introspection lists every table *visible* on the search_path. A
tenant's search_path also holds the shared schema, so without this a tenant schema
would seem to contain the shared ``django_migrations`` table (and ``flush`` would
truncate shared tables). Listing only ``current_schema()`` keeps each schema's view to
itself.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql.introspection import (
    DatabaseIntrospection as PostgresIntrospection,
)
from django.db.backends.postgresql.introspection import TableInfo

_TABLES_OF_CURRENT_SCHEMA = """
    SELECT c.relname,
           CASE WHEN c.relispartition THEN 'p'
                WHEN c.relkind IN ('m', 'v') THEN 'v'
                ELSE 't' END,
           obj_description(c.oid, 'pg_class')
      FROM pg_catalog.pg_class c
     WHERE c.relkind IN ('f', 'm', 'p', 'r', 'v')
       AND c.relnamespace = (
           SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = current_schema()
       )
"""


class DatabaseIntrospection(PostgresIntrospection):
    def get_table_list(self, cursor: Any) -> list[Any]:
        cursor.execute(_TABLES_OF_CURRENT_SCHEMA)
        return [TableInfo(*row) for row in cursor.fetchall() if row[0] not in self.ignored_tables]
