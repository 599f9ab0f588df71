{# Staging, de-duplication and the guarded upsert for PostgreSQL.
   Staging tables are session TEMP tables filled by COPY; "__datasync_seq" records load order so
   that of two rows with the same key and LastUpdateDT the later one wins, as on the other targets. #}
{% import "common/merge.sql" as common %}
{% macro collist(cols, prefix="") %}{{ common.collist(cols, prefix) }}{% endmacro %}

{% macro create_staging(s, staging, types) %}
CREATE TEMP TABLE {{ staging | q }} (
{% for c in s.columns %}
    {{ c.name | q }} {{ types[c.name] }},
{% endfor %}
    "__datasync_seq" BIGINT GENERATED ALWAYS AS IDENTITY
)
{% endmacro %}

{% macro copy_csv(table, cols) %}
COPY {{ table | q }} ({{ collist(cols) }}) FROM STDIN WITH (FORMAT csv)
{% endmacro %}

{# The binary form (pgpq's encoding of the Arrow batch): columns of datasync's own types only. #}
{% macro copy_binary(table, cols) %}
COPY {{ table | q }} ({{ collist(cols) }}) FROM STDIN WITH (FORMAT binary)
{% endmacro %}

{# datasync verify: the whole table out as CSV (the reverse of copy_csv), parsed by Arrow. #}
{% macro copy_out_csv(s) %}
COPY {{ s.name | q }} ({{ collist(s.column_names) }}) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE *)
{% endmacro %}

{# One statement straight from staging: the latest row per key (DISTINCT ON: newest LastUpdateDT, then
   the later load), inserted where the key is new, updated only with a newer LastUpdateDT.
   RETURNING (xmax = 0) is true for a freshly inserted row and false for an updated one
   (the updated row version carries the updating transaction in xmax); rows skipped by the
   WHERE guard are not returned, so the two counts are exact. #}
{% macro merge(s, staging) %}
WITH changed AS (
    INSERT INTO {{ s.name | q }} AS t ({{ collist(s.column_names) }})
    SELECT DISTINCT ON ({{ collist(s.primary_key) }}) {{ collist(s.column_names) }}
    FROM {{ staging | q }}
    ORDER BY {{ collist(s.primary_key) }}, {{ s.last_update_column | q }} DESC, "__datasync_seq" DESC
    ON CONFLICT ({{ collist(s.primary_key) }}) DO UPDATE SET
{% for c in s.non_key_columns %}
        {{ c | q }} = excluded.{{ c | q }}{{ "," if not loop.last }}
{% endfor %}
    WHERE excluded.{{ s.last_update_column | q }} > t.{{ s.last_update_column | q }}
    RETURNING (t.xmax = 0) AS inserted
)
SELECT COUNT(*) FILTER (WHERE inserted), COUNT(*) FILTER (WHERE NOT inserted) FROM changed
{% endmacro %}

{% macro drop_temp(name) %}
DROP TABLE IF EXISTS pg_temp.{{ name | q }}
{% endmacro %}
