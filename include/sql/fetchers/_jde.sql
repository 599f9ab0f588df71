{# The shape every JDE fetcher's query shares: physical columns of one table, an optional
   extra condition, and the incremental filter pushed down on the Julian audit date (index
   friendly; the fetcher then applies it exactly on LastUpdateDT). #}
{% macro select(schema, table, columns, audit_date, incremental, where=None) %}
SELECT {% for c in columns %}{{ c | q }}{{ ", " if not loop.last }}{% endfor %}

FROM {% if schema %}{{ schema | q }}.{% endif %}{{ table | q }}
{% if where or incremental %}
WHERE {% if where %}{{ where }}{% endif %}{% if where and incremental %} AND {% endif %}{% if incremental %}{{ audit_date | q }} >= {{ p('min_julian') }}{% endif %}

{% endif %}
{% endmacro %}
