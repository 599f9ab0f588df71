{# Mass with PrepurgeData on PostgreSQL: every statement runs inside the one mass transaction.
   DROP INDEX and TRUNCATE take an ACCESS EXCLUSIVE lock: readers wait for the commit and then see
   the new contents, or see the old contents if the transaction rolls back (or its session dies). #}
{% macro drop_index(index) %}
DROP INDEX IF EXISTS {{ index | q }}
{% endmacro %}

{% macro truncate(s) %}
TRUNCATE TABLE {{ s.name | q }}
{% endmacro %}

{% macro analyze(s) %}
ANALYZE {{ s.name | q }}
{% endmacro %}
