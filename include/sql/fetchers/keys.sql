{# The key scan of delete detection and verify: the key columns of every source row, nothing
   else, no filter (the source answers from its primary-key index). The fetcher converts the keys
   with its own JDE rules, so a padded key compares equal to the cached one. #}
{% macro select(schema, table, columns) %}
SELECT {% for c in columns %}{{ c | q }}{{ ", " if not loop.last }}{% endfor %}

FROM {{ dialect.table(schema, table) }}
{% endmacro %}
