{# F4111 Item Ledger, only rows with a lot number. F4111 has no UPMJ: the audit date is
   ILCRDJ. dialect.nonblank skips blank (space-padded) lots on every source; the fetcher
   checks the same again in Arrow. #}
{% import "fetchers/_jde.sql" as jde %}
{% macro select(schema, table, columns, audit_date, incremental, bounded=False) %}
{{ jde.select(schema, table, columns, audit_date, incremental, where=dialect.nonblank("ILLOTN"), bounded=bounded) }}
{% endmacro %}
