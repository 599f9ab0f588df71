{# Oracle (python-oracledb). #}

{# '' is NULL in Oracle and RTRIM of an all-blank NCHAR is NULL too: "<> ''" would keep no row. #}
{% macro nonblank(column) %}RTRIM({{ column | q }}) IS NOT NULL{% endmacro %}

{# Columns as the server types them: no cast needed (ansi.sql casts for untyped SQLite copies). #}
{% macro column(name, cast=None) %}{{ name | q }}{% endmacro %}
