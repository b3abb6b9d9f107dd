-- Table constraints of one schema other than NOT NULL: primary keys, unique, check,
-- exclusion and foreign keys, in table creation order. Parameter: schema, the schema's name.
-- Run with search_path set to that schema alone, so that pg_get_constraintdef leaves the
-- schema's own tables unqualified and qualifies shared ones (public.x).
SELECT c.relname,
       k.conname,
       k.contype,
       pg_catalog.pg_get_constraintdef(k.oid) AS definition
FROM pg_catalog.pg_constraint k
JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind = 'r' AND k.contype IN ('p', 'u', 'c', 'x', 'f')
ORDER BY c.oid, k.oid
