{# Target table DDL for SQLite: the shared statements of common/ddl.sql, and the catalog query. #}
{% import "common/ddl.sql" as ddl %}
{% macro table_exists(name) %}
SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = {{ p('name') }}
{% endmacro %}

{% macro create_table(s, types, pk_name) %}
{{ ddl.create_table(s, types, pk_name) }}
{% endmacro %}

{% macro create_index(s, index, cols) %}
{{ ddl.create_index(s, index, cols) }}
{% endmacro %}
