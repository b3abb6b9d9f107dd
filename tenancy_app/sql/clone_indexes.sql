-- Indexes of one schema's tables that no constraint owns, in creation order.
-- Parameter: schema, the schema's name. pg_get_indexdef always names the table with its schema, so
-- expected_prefix is what the definition starts with, up to the access method; the
-- clone keeps the rest ("btree (name varchar_pattern_ops) WHERE ...").
SELECT t.relname,
       i.relname AS index_name,
       x.indisunique,
       pg_catalog.pg_get_indexdef(x.indexrelid) AS definition,
       'CREATE ' || CASE WHEN x.indisunique THEN 'UNIQUE ' ELSE '' END || 'INDEX '
           || pg_catalog.quote_ident(i.relname) || ' ON '
           || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(t.relname)
           || ' USING ' AS expected_prefix
FROM pg_catalog.pg_index x
JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = %(schema)s AND t.relkind = 'r'
  AND NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_constraint k
      WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid AND k.contype IN ('p', 'u', 'x')
  )
ORDER BY i.oid
