{# What the source queries spell alike on SQLite, PostgreSQL and ODBC sources (DB2 for i,
   SQL Server through a vendor driver). fetchers/dialect/<dialect>.sql holds only the macros its
   database spells differently (the reader's dialect: mssql, oracle); a macro it does not define
   comes from here. #}

{# A source table, schema-qualified when the source system names a Schema. #}
{% macro table(schema, name) %}{% if schema %}{{ schema | q }}.{% endif %}{{ name | q }}{% endmacro %}

{# An NCHAR column that holds more than its space padding. #}
{% macro nonblank(column) %}RTRIM({{ column | q }}) <> ''{% endmacro %}

{# A selected column, cast where the fetcher says the source may leave it untyped (a JDE audit
   time on a SQLite source: a driver such as the SQLite ODBC driver in StepAPI mode would
   otherwise report it as text). The result keeps the column's name. #}
{% macro column(name, cast=None) %}{% if cast %}CAST({{ name | q }} AS {{ cast }}) AS {{ name | q }}{% else %}{{ name | q }}{% endif %}{% endmacro %}
