{# Mass with PrepurgeData on PostgreSQL: every statement runs inside the one mass transaction.
   DROP INDEX and TRUNCATE take an ACCESS EXCLUSIVE lock: readers wait for the commit and then see
   the new contents, or see the old contents if the transaction rolls back (or its session dies). #}
{% import "postgres/ddl.sql" as pg_ddl %}
{# A table created before datasync set a fill factor gets one with its next Mass, which rewrites every
   page anyway; a fill factor someone chose is kept. #}
{% macro fill_factor(s) %}
SELECT o.option_value FROM pg_catalog.pg_class AS c, pg_catalog.pg_options_to_table(c.reloptions) AS o
WHERE c.oid = {{ p('table') }}::regclass AND o.option_name = 'fillfactor'
{% endmacro %}

{% macro keep_page_room(s) %}
ALTER TABLE {{ s.name | q }} SET (fillfactor = {{ pg_ddl.page_fill }})
{% endmacro %}

{% macro drop_index(index) %}
DROP INDEX IF EXISTS {{ index | q }}
{% endmacro %}

{% macro truncate(s) %}
TRUNCATE TABLE {{ s.name | q }}
{% endmacro %}

{% macro analyze(s) %}
ANALYZE {{ s.name | q }}
{% endmacro %}
