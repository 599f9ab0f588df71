{# F4101 Item Master: every column of the fetcher, filtered on the audit date when incremental. #}
{% import "fetchers/_jde.sql" as jde %}
{% macro select(schema, table, columns, audit_date, incremental, bounded=False) %}
{{ jde.select(schema, table, columns, audit_date, incremental, bounded=bounded) }}
{% endmacro %}
