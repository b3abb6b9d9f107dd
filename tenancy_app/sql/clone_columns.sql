-- Columns of the tables of one schema, in table creation and column order.
-- Parameter: schema, the schema's name; run with search_path set to that schema alone.
-- not_null_name is the NOT NULL constraint's name (PostgreSQL 18 and later, else NULL).
SELECT c.relname,
       a.attname,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
       CASE WHEN a.attcollation <> t.typcollation
            THEN pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
       END AS collation,
       a.attnotnull,
       (SELECT k.conname FROM pg_catalog.pg_constraint k
        WHERE k.conrelid = a.attrelid AND k.contype = 'n' AND k.conkey[1] = a.attnum) AS not_null_name,
       a.attidentity,
       a.attgenerated,
       pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS default_expression,
       pg_catalog.col_description(a.attrelid, a.attnum) AS comment
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = %(schema)s AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.oid, a.attnum
