{# Target table DDL for SQLite. s: TableSchema, types: column -> DDL type #}
{% macro table_exists(name) %}
SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = {{ p('name') }}
{% endmacro %}

{% macro create_table(s, types) %}
CREATE TABLE IF NOT EXISTS {{ s.name | q }} (
{% for c in s.columns %}
    {{ c.name | q }} {{ types[c.name] }}{% if not c.nullable or c.name in s.primary_key %} NOT NULL{% endif %},
{% endfor %}
    CONSTRAINT {{ ('PK_' ~ s.name) | q }} PRIMARY KEY ({% for k in s.primary_key %}{{ k | q }}{{ ", " if not loop.last }}{% endfor %})
)
{% endmacro %}

{% macro create_index(s, index, cols) %}
CREATE INDEX IF NOT EXISTS {{ index | q }} ON {{ s.name | q }} ({% for c in cols %}{{ c | q }}{{ ", " if not loop.last }}{% endfor %})
{% endmacro %}
