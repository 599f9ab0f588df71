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

{# The Mass's rows, bulk-loaded by ADBC into a side file before the transaction (SqliteTarget.preloaded). #}
{% macro attach_load(load) %}
ATTACH DATABASE :path AS {{ load | q }}
{% endmacro %}

{% macro detach_load(load) %}
DETACH DATABASE {{ load | q }}
{% endmacro %}

{% macro copy_loaded(s, load, rows) %}
INSERT INTO main.{{ s.name | q }} ({{ s.column_names | map("q") | join(", ") }})
SELECT {{ s.column_names | map("q") | join(", ") }} FROM {{ load | q }}.{{ rows | q }}
{% endmacro %}

{% macro first_duplicate(s, load, rows) %}
SELECT {{ s.primary_key | map("q") | join(", ") }} FROM {{ load | q }}.{{ rows | q }}
GROUP BY {{ s.primary_key | map("q") | join(", ") }} HAVING COUNT(*) > 1 ORDER BY MIN(rowid) LIMIT 1
{% endmacro %}
