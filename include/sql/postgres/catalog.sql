{# An existing table of the current schema as PostgreSQL's catalog has it:
   (name, type, length, precision, scale, nullable, has_default), the values information_schema.columns
   gives (a domain as its base type, 'ARRAY', 'USER-DEFINED') read from pg_catalog directly: the view
   costs ~10 ms per call in a new session, and every sync describes the ledger once. #}
{% macro relation() %}to_regclass(quote_ident(current_schema()) || '.' || quote_ident({{ p('name') }})){% endmacro %}

{% macro columns() %}
SELECT a.attname,
       CASE WHEN bt.typelem <> 0 AND bt.typlen = -1 THEN 'ARRAY'
            WHEN bn.nspname = 'pg_catalog' THEN format_type(bt.oid, NULL)
            ELSE 'USER-DEFINED' END,
       information_schema._pg_char_max_length(bt.oid, x.typmod),
       CASE WHEN bt.oid = 'pg_catalog.numeric'::regtype THEN information_schema._pg_numeric_precision(bt.oid, x.typmod) END,
       CASE WHEN bt.oid = 'pg_catalog.numeric'::regtype THEN information_schema._pg_numeric_scale(bt.oid, x.typmod) END,
       CASE WHEN a.attnotnull OR (t.typtype = 'd' AND t.typnotnull) THEN 0 ELSE 1 END,
       CASE WHEN a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '' THEN 1 ELSE 0 END
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid
JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
CROSS JOIN LATERAL (
    SELECT information_schema._pg_truetypid(a.*, t.*) AS typid, information_schema._pg_truetypmod(a.*, t.*) AS typmod
) AS x
JOIN pg_catalog.pg_type AS bt ON bt.oid = x.typid
JOIN pg_catalog.pg_namespace AS bn ON bn.oid = bt.typnamespace
WHERE c.oid = {{ relation() }} AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
{% endmacro %}

{% macro primary_key() %}
SELECT a.attname
FROM pg_catalog.pg_index AS i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
JOIN pg_catalog.pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = {{ relation() }} AND i.indisprimary
ORDER BY k.position
{% endmacro %}

{# The names of a table's indexes in the current schema (datasync's ledger upgrade looks for its own). #}
{% macro indexes() %}
SELECT i.indexname FROM pg_catalog.pg_indexes AS i
WHERE i.schemaname = current_schema() AND i.tablename = {{ p('name') }}
ORDER BY i.indexname
{% endmacro %}
