-- Sequences of one schema with their options and owning column (identity or serial).
-- Parameter: schema, the schema's name. is_called is whether nextval has ever been called (NULL: no).
SELECT c.relname,
       pg_catalog.format_type(s.seqtypid, NULL) AS type,
       s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
       t.relname AS owner_table,
       a.attname AS owner_column,
       d.deptype = 'i' AS is_identity,
       pg_catalog.pg_sequence_last_value(c.oid) IS NOT NULL AS is_called
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid
LEFT JOIN pg_catalog.pg_depend d
       ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
      AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjsubid > 0
      AND d.deptype IN ('a', 'i')
LEFT JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE n.nspname = %(schema)s AND c.relkind = 'S'
ORDER BY c.oid
