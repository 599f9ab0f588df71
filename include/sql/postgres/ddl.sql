{# Target table DDL for PostgreSQL: the shared statements of common/ddl.sql, the catalog query, the DDL lock. #}
{% import "common/ddl.sql" as ddl %}
{% macro table_exists(name) %}
SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = {{ p('name') }}
{% endmacro %}

{% macro create_table(s, types, pk_name) %}
{{ ddl.create_table(s, types, pk_name) }}
{% endmacro %}

{% macro create_index(s, index, cols) %}
{{ ddl.create_index(s, index, cols) }}
{% endmacro %}

{# Serialises concurrent CREATE ... IF NOT EXISTS (which can still race on the catalog) until commit. #}
{% macro ddl_lock() %}
SELECT pg_advisory_xact_lock({{ p('key') }})
{% endmacro %}
