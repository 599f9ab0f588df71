{# datasync verify: the cached table, every column in schema order (one consistent read). #}
{% import "common/merge.sql" as merge %}
{% macro select_rows(s) %}
SELECT {{ merge.collist(s.column_names) }} FROM {{ s.name | q }}
{% endmacro %}
