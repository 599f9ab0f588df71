{# Staging and de-duplication pieces the dialects share. #}
{% import "common/ddl.sql" as ddl %}
{% macro collist(cols, prefix="") %}{{ ddl.collist(cols, prefix) }}{% endmacro %}

{% macro keymatch(s, left, right) %}{% for k in s.primary_key %}{{ left | q }}.{{ k | q }} = {{ right | q }}.{{ k | q }}{{ " AND " if not loop.last }}{% endfor %}{% endmacro %}

{# The latest row per full key: ROW_NUMBER() over the key, newest LastUpdateDT first, the later-loaded
   row first among equals (load_order: the staging table's load-order column). into: SQL Server's SELECT ... INTO target. #}
{% macro latest_per_key(s, source, load_order, into="") %}
SELECT {{ collist(s.column_names) }}
{% if into %}INTO {{ into }}
{% endif %}FROM (
    SELECT {{ collist(s.column_names) }},
           ROW_NUMBER() OVER (PARTITION BY {{ collist(s.primary_key) }}
                              ORDER BY {{ s.last_update_column | q }} DESC, {{ load_order }} DESC) AS {{ "__rn" | q }}
    FROM {{ source }}
) AS {{ "ranked" | q }}
WHERE {{ "__rn" | q }} = 1
{% endmacro %}
