{# Target table DDL for PostgreSQL. s: TableSchema, types: column -> DDL type. Names are always quoted, so they keep their case. #}
{% macro table_exists(name) %}
SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = {{ p('name') }}
{% endmacro %}

{% macro create_table(s, types, pk_name) %}
CREATE TABLE IF NOT EXISTS {{ s.name | q }} (
{% for c in s.columns %}
    {{ c.name | q }} {{ types[c.name] }}{% if not c.nullable or c.name in s.primary_key %} NOT NULL{% endif %},
{% endfor %}
    CONSTRAINT {{ pk_name | q }} PRIMARY KEY ({% for k in s.primary_key %}{{ k | q }}{{ ", " if not loop.last }}{% endfor %})
)
{% endmacro %}

{% macro create_index(s, index, cols) %}
CREATE INDEX IF NOT EXISTS {{ index | q }} ON {{ s.name | q }} ({% for c in cols %}{{ c | q }}{{ ", " if not loop.last }}{% endfor %})
{% endmacro %}

{# Serialises concurrent CREATE ... IF NOT EXISTS (which can still race on the catalog) until commit. #}
{% macro ddl_lock() %}
SELECT pg_advisory_xact_lock({{ p('key') }})
{% endmacro %}
