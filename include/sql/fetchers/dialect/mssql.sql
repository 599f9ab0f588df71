{# SQL Server (pymssql). With SourceSystems.<name>.ReadUncommitted the table is read
   WITH (NOLOCK): no shared locks, so the read neither waits for JDE's writers nor blocks them,
   at the price of dirty reads (docs/sources.md). #}
{% import "fetchers/dialect/ansi.sql" as ansi %}

{% macro table(schema, name) %}{{ ansi.table(schema, name) }}{% if read_uncommitted %} WITH (NOLOCK){% endif %}{% endmacro %}

{# Columns as the server types them: no cast needed (ansi.sql casts for untyped SQLite copies). #}
{% macro column(name, cast=None) %}{{ name | q }}{% endmacro %}
