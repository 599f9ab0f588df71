{# Mass with PrepurgeData on SQLite: runs inside one BEGIN IMMEDIATE transaction. #}
{% macro drop_index(index) %}
DROP INDEX IF EXISTS {{ index | q }}
{% endmacro %}

{% macro truncate(s) %}
DELETE FROM {{ s.name | q }}
{% endmacro %}

{% macro analyze(s) %}
ANALYZE {{ s.name | q }}
{% endmacro %}
