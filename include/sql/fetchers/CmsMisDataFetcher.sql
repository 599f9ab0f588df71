{# CMS MIS_DATA: machine events per lot and work order. LastModified is a
   DATETIME in the CMS server's local time; the filter is pushed down as is; ``bounded`` (a
   backfill's interval end) adds the exclusive upper bound. #}
{% macro select(schema, table, columns, incremental, bounded=False) %}
SELECT {% for c in columns %}{{ c | q }}{{ ", " if not loop.last }}{% endfor %}

FROM {{ dialect.table(schema, table) }}
{% if incremental %}
WHERE {{ "LastModified" | q }} >= {{ p('minimum_dt') }}
{% if bounded %}
  AND {{ "LastModified" | q }} < {{ p('maximum_dt') }}
{% endif %}
{% endif %}
{% endmacro %}
