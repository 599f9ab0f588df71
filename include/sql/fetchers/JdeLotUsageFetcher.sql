{# F4111 Item Ledger, only rows with a lot number. F4111 has no UPMJ: the
   audit date is ILCRDJ. RTRIM(...) <> '' skips blank (space-padded) lots on
   every source; the fetcher checks the same again in Arrow.
   Incremental runs push the filter down on the Julian date (index friendly);
   the fetcher then applies it exactly on LastUpdateDT. #}
{% macro select(schema, table, columns, audit_date, incremental) %}
SELECT {% for c in columns %}{{ c | q }}{{ ", " if not loop.last }}{% endfor %}

FROM {% if schema %}{{ schema | q }}.{% endif %}{{ table | q }}
WHERE RTRIM({{ "ILLOTN" | q }}) <> ''
{% if incremental %}
  AND {{ audit_date | q }} >= {{ p('min_julian') }}
{% endif %}
{% endmacro %}
