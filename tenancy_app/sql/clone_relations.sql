-- Tables and views of one schema, in creation order. Parameter: schema, the schema's name.
-- Run with search_path set to that schema alone, so that pg_get_viewdef leaves the
-- schema's own names unqualified and qualifies everything else.
SELECT c.relname,
       c.relkind,
       c.relpersistence = 'u' AS unlogged,
       CASE WHEN c.relkind = 'v' THEN pg_catalog.pg_get_viewdef(c.oid) END AS view_definition,
       pg_catalog.obj_description(c.oid, 'pg_class') AS comment
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'v')
ORDER BY c.oid
