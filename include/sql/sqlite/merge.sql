{# Staging, de-duplication and the guarded upsert for SQLite. #}
{% import "common/merge.sql" as common %}
{% macro collist(cols, prefix="") %}{{ common.collist(cols, prefix) }}{% endmacro %}

{% macro create_staging(s, staging, types) %}
CREATE TEMP TABLE {{ staging | q }} ({% for c in s.columns %}{{ c.name | q }} {{ types[c.name] }}{{ ", " if not loop.last }}{% endfor %})
{% endmacro %}

{% macro insert_rows(table, temp, cols) %}
INSERT INTO {{ "temp." if temp }}{{ table | q }} ({{ collist(cols) }}) VALUES ({% for c in cols %}?{{ ", " if not loop.last }}{% endfor %})
{% endmacro %}

{% macro dedupe(s, staging, dedup) %}
CREATE TEMP TABLE {{ dedup | q }} AS
{{ common.latest_per_key(s, "temp." ~ (staging | q), "rowid") }}
{% endmacro %}

{% macro count_changes(s, dedup) %}
SELECT
    COALESCE(SUM(CASE WHEN t.{{ s.primary_key[0] | q }} IS NULL THEN 1 ELSE 0 END), 0) AS inserted,
    COALESCE(SUM(CASE WHEN t.{{ s.primary_key[0] | q }} IS NOT NULL
                      AND d.{{ s.last_update_column | q }} > t.{{ s.last_update_column | q }} THEN 1 ELSE 0 END), 0) AS updated
FROM temp.{{ dedup | q }} AS d
LEFT JOIN {{ s.name | q }} AS t
  ON {{ common.keymatch(s, "t", "d") }}

{% endmacro %}

{% macro upsert(s, dedup) %}
INSERT INTO {{ s.name | q }} ({{ collist(s.column_names) }})
SELECT {{ collist(s.column_names) }} FROM temp.{{ dedup | q }} WHERE true
ON CONFLICT ({{ collist(s.primary_key) }}) DO UPDATE SET
{% for c in s.non_key_columns %}
    {{ c | q }} = excluded.{{ c | q }}{{ "," if not loop.last }}
{% endfor %}
WHERE excluded.{{ s.last_update_column | q }} > {{ s.name | q }}.{{ s.last_update_column | q }}
{% endmacro %}

{% macro drop_temp(name) %}
DROP TABLE IF EXISTS temp.{{ name | q }}
{% endmacro %}
