{# CMS MIS_DATA: machine events per lot and work order. LastModified is a
   DATETIME in the CMS server's local time; the filter is pushed down as is. #}
{% macro select(schema, table, columns, incremental) %}
SELECT {% for c in columns %}{{ c | q }}{{ ", " if not loop.last }}{% endfor %}

FROM {{ dialect.table(schema, table) }}
{% if incremental %}
WHERE {{ "LastModified" | q }} >= {{ p('minimum_dt') }}
{% endif %}
{% endmacro %}
