{# F4801 Work Order Master. columns: physical names; audit_date: the Julian audit date column.
   Incremental runs push the filter down on the Julian date (index friendly);
   the fetcher then applies it exactly on LastUpdateDT. #}
{% macro select(schema, table, columns, audit_date, incremental) %}
SELECT {% for c in columns %}{{ c | q }}{{ ", " if not loop.last }}{% endfor %}

FROM {% if schema %}{{ schema | q }}.{% endif %}{{ table | q }}
{% if incremental %}
WHERE {{ audit_date | q }} >= {{ p('min_julian') }}
{% endif %}
{% endmacro %}
