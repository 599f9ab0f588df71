{# The shape every JDE fetcher's query shares: physical columns of one table, an optional
   extra condition, and the incremental filter pushed down on the Julian audit date (index
   friendly; the fetcher then applies it exactly on LastUpdateDT). What a source dialect spells
   differently comes from fetchers/dialect/ (``dialect.table``, ``dialect.nonblank``).
   One condition per line below: a new bound is one more line. ``bounded`` (a backfill's
   interval end) adds the upper bound on the same Julian date, inclusive: a row of that day
   may be before the end's time; the fetcher keeps LastUpdateDT < the end exactly. #}
{% macro select(schema, table, columns, audit_date, incremental, where=None, bounded=False) %}
{% set conditions = []
    + ([where] if where else [])
    + ([(audit_date | q) ~ " >= " ~ p('min_julian')] if incremental else [])
    + ([(audit_date | q) ~ " <= " ~ p('max_julian')] if bounded else [])
%}
SELECT {% for c in columns %}{{ dialect.column(c, casts.get(c)) }}{{ ", " if not loop.last }}{% endfor %}

FROM {{ dialect.table(schema, table) }}
{% if conditions %}
WHERE {{ conditions | join("\n  AND ") }}
{% endif %}
{% endmacro %}
