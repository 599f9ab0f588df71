{# Delete detection on PostgreSQL: a session TEMP key table filled by COPY and ANALYZEd
   (autovacuum never analyzes temp tables: without statistics the planner would guess), then one
   set-based DELETE ... WHERE NOT EXISTS, planned as a hash anti-join over the key table: no index
   on it (building one cost more than the join on 1,000,000 keys). #}
{% import "common/deletes.sql" as common %}
{% import "common/merge.sql" as merge %}
{% macro ref(keys) %}pg_temp.{{ keys | q }}{% endmacro %}

{% macro create_keys(s, keys, types) %}
CREATE TEMP TABLE {{ keys | q }} ({% for c in s.columns %}{{ c.name | q }} {{ types[c.name] }}{{ ", " if not loop.last }}{% endfor %})
{% endmacro %}

{% macro index_keys(s, keys) %}
ANALYZE {{ ref(keys) }}
{% endmacro %}

{% macro count_rows(s) %}{{ common.count_rows(s) }}{% endmacro %}
{% macro count_missing(s, keys) %}{{ common.count_missing_in(s, ref(keys)) }}{% endmacro %}
{% macro sample_missing(s, keys, limit) %}{{ common.sample_missing_in(s, ref(keys), limit) }}{% endmacro %}
{% macro delete_missing(s, keys) %}{{ common.delete_missing_in(s, ref(keys)) }}{% endmacro %}
