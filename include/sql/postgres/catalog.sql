{# An existing table of the current schema as PostgreSQL's catalog has it:
   (name, type, length, precision, scale, nullable, has_default). #}
{% macro columns() %}
SELECT c.column_name, c.data_type, c.character_maximum_length,
       CASE WHEN c.data_type = 'numeric' THEN c.numeric_precision END,
       CASE WHEN c.data_type = 'numeric' THEN c.numeric_scale END,
       CASE WHEN c.is_nullable = 'YES' THEN 1 ELSE 0 END,
       CASE WHEN c.column_default IS NOT NULL OR c.is_identity = 'YES' OR c.is_generated = 'ALWAYS' THEN 1 ELSE 0 END
FROM information_schema.columns AS c
WHERE c.table_schema = current_schema() AND c.table_name = {{ p('name') }}
ORDER BY c.ordinal_position
{% endmacro %}

{% macro primary_key() %}
SELECT k.column_name
FROM information_schema.table_constraints AS t
JOIN information_schema.key_column_usage AS k
  ON k.constraint_schema = t.constraint_schema AND k.constraint_name = t.constraint_name AND k.table_name = t.table_name
WHERE t.table_schema = current_schema() AND t.table_name = {{ p('name') }} AND t.constraint_type = 'PRIMARY KEY'
ORDER BY k.ordinal_position
{% endmacro %}

{# The names of a table's indexes in the current schema (datasync's ledger upgrade looks for its own). #}
{% macro indexes() %}
SELECT i.indexname FROM pg_catalog.pg_indexes AS i
WHERE i.schemaname = current_schema() AND i.tablename = {{ p('name') }}
ORDER BY i.indexname
{% endmacro %}
