{# DDL-family statements every dialect shares. #}
{% macro count_rows(name) %}
SELECT COUNT(*) AS {{ "n" | q }} FROM {{ name | q }}
{% endmacro %}
