-- Objects of one schema that a structure clone does not reproduce, one row each.
-- Parameter: schema, the name of the schema being read. Any row makes the clone refuse.
WITH nsp AS (
    SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = %(schema)s
)
SELECT 'function' AS kind, p.proname::text AS name
FROM pg_catalog.pg_proc p, nsp
WHERE p.pronamespace = nsp.oid
UNION ALL
SELECT 'type', t.typname::text
FROM pg_catalog.pg_type t, nsp
WHERE t.typnamespace = nsp.oid
  AND (t.typtype IN ('b', 'd', 'e', 'r', 'm')
       OR (t.typtype = 'c' AND (SELECT relkind FROM pg_catalog.pg_class WHERE oid = t.typrelid) = 'c'))
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type e WHERE e.typarray = t.oid)
UNION ALL
SELECT CASE c.relkind
           WHEN 'm' THEN 'materialized view'
           WHEN 'f' THEN 'foreign table'
           WHEN 'p' THEN 'partitioned table'
           ELSE 'relation of kind ' || c.relkind::text
       END,
       c.relname::text
FROM pg_catalog.pg_class c, nsp
WHERE c.relnamespace = nsp.oid AND c.relkind IN ('m', 'f', 'p')
UNION ALL
SELECT 'partition or inheriting table', c.relname::text
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_inherits i ON i.inhrelid = c.oid, nsp
WHERE c.relnamespace = nsp.oid
UNION ALL
SELECT 'table with storage options or row security', c.relname::text
FROM pg_catalog.pg_class c, nsp
WHERE c.relnamespace = nsp.oid AND c.relkind IN ('r', 'v')
  AND (c.reloptions IS NOT NULL OR c.relrowsecurity)
UNION ALL
SELECT 'trigger', tg.tgname::text || ' on ' || c.relname::text
FROM pg_catalog.pg_trigger tg JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid, nsp
WHERE c.relnamespace = nsp.oid AND NOT tg.tgisinternal
UNION ALL
SELECT 'rule', r.rulename::text || ' on ' || c.relname::text
FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class, nsp
WHERE c.relnamespace = nsp.oid AND r.rulename <> '_RETURN'
UNION ALL
SELECT 'row security policy', po.polname::text || ' on ' || c.relname::text
FROM pg_catalog.pg_policy po JOIN pg_catalog.pg_class c ON c.oid = po.polrelid, nsp
WHERE c.relnamespace = nsp.oid
UNION ALL
SELECT 'invalid index', c.relname::text
FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class c ON c.oid = x.indexrelid, nsp
WHERE c.relnamespace = nsp.oid AND NOT x.indisvalid
UNION ALL
SELECT 'extended statistics', s.stxname::text
FROM pg_catalog.pg_statistic_ext s, nsp
WHERE s.stxnamespace = nsp.oid
UNION ALL
SELECT 'collation', co.collname::text
FROM pg_catalog.pg_collation co, nsp
WHERE co.collnamespace = nsp.oid
UNION ALL
SELECT 'operator', o.oprname::text
FROM pg_catalog.pg_operator o, nsp
WHERE o.oprnamespace = nsp.oid
UNION ALL
SELECT 'sequence owned by a table of another schema', c.relname::text
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_depend d
  ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
 AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i')
JOIN pg_catalog.pg_class t ON t.oid = d.refobjid, nsp
WHERE c.relnamespace = nsp.oid AND c.relkind = 'S' AND t.relnamespace <> nsp.oid
ORDER BY 1, 2
