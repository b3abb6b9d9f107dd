"""Read one schema's catalog as plain values, to compare two schemas in tests.

Everything is read with ``search_path`` set to the schema alone, so the server prints the
schema's own objects without a schema name and two schemas with the same structure give
equal values. Column positions are compared in order, not by attnum: a column dropped by
a migration leaves a hole in attnum that a copy does not have, and nothing can see it.
"""

from __future__ import annotations

from typing import Any

from django.db import connection

from tenancy_app.context import schema_context

CATALOG_QUERIES = {
    "relations": """
        SELECT c.relname, c.relkind, c.relpersistence, c.relrowsecurity, c.reloptions,
               obj_description(c.oid, 'pg_class'),
               CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) END
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s AND c.relkind NOT IN ('i', 'S', 't')
        ORDER BY c.relname
    """,
    "columns": """
        SELECT c.relname,
               row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum) AS position,
               a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity,
               a.attgenerated, pg_get_expr(d.adbin, d.adrelid), a.attcollation::regcollation::text,
               col_description(c.oid, a.attnum)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'v') AND a.attnum > 0
          AND NOT a.attisdropped
        ORDER BY c.relname, a.attnum
    """,
    "sequences": """
        SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin,
               s.seqmax, s.seqcache, s.seqcycle, t.relname, a.attname, d.deptype,
               pg_sequence_last_value(c.oid)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_sequence s ON s.seqrelid = c.oid
        LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
             AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
        LEFT JOIN pg_class t ON t.oid = d.refobjid
        LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE n.nspname = %(schema)s
        ORDER BY c.relname
    """,
    "indexes": """
        SELECT t.relname, i.relname,
               replace(pg_get_indexdef(x.indexrelid), quote_ident(%(schema)s) || '.', '<schema>.'),
               x.indisunique, x.indisprimary, x.indimmediate, x.indisvalid
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = %(schema)s
        ORDER BY i.relname
    """,
    "constraints": """
        SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid), k.condeferrable,
               k.condeferred, k.convalidated, k.confupdtype, k.confdeltype, k.confmatchtype,
               (SELECT relname FROM pg_class WHERE oid = k.conindid),
               k.confrelid::regclass::text
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s
        ORDER BY c.relname, k.conname
    """,
    "other objects": """
        SELECT 'function', proname::text
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = %(schema)s
        UNION ALL
        SELECT 'trigger', CASE WHEN g.tgisinternal  -- foreign keys' triggers: named by oid
                               THEN c.relname || ' ' || g.tgfoid::regproc || ' ' || g.tgtype
                               ELSE g.tgname END
        FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %(schema)s
        ORDER BY 1, 2
    """,
}


def rows_of(schema: str, query: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    with schema_context(schema, include_public=False), connection.cursor() as cursor:
        cursor.execute(query, params)
        return [tuple(row) for row in cursor.fetchall()]


def schema_catalog(schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Tables, views, columns, sequences, indexes and constraints of ``schema``."""
    return {
        name: rows_of(schema, query, {"schema": schema}) for name, query in CATALOG_QUERIES.items()
    }


def schema_rows(schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """The rows provisioning must put in a new schema: migrations, content types, permissions."""
    return {
        "django_migrations": rows_of(
            schema, "SELECT id, app, name FROM django_migrations ORDER BY id"
        ),
        "django_content_type": rows_of(
            schema, "SELECT id, app_label, model FROM django_content_type ORDER BY id"
        ),
        "auth_permission": rows_of(
            schema,
            "SELECT id, content_type_id, codename, name FROM auth_permission ORDER BY id",
        ),
    }


def differences(left: dict[str, list[Any]], right: dict[str, list[Any]]) -> list[str]:
    """Readable differences between two readings (empty when equal)."""
    found = []
    for key in sorted(left.keys() | right.keys()):
        a, b = set(left.get(key, [])), set(right.get(key, []))
        found += [f"{key}: only in the first:  {row}" for row in sorted(a - b, key=repr)]
        found += [f"{key}: only in the second: {row}" for row in sorted(b - a, key=repr)]
        if not found and left.get(key) != right.get(key):
            found.append(f"{key}: same rows in another order")
    return found
