{# Delete detection, what the dialects share: the source's keys sit in a session temp key table
   (``keys``: its reference as the dialect spells it), the target's rows without a source key are
   found by an anti-join on the full primary key, and deleted inside the sync's transaction.
   Values are never pasted: the only bound value is SQL Server's batch size. #}
{% import "common/merge.sql" as merge %}

{% macro keymatch(s, keys_alias, table_ref) %}{% for k in s.primary_key %}{{ keys_alias | q }}.{{ k | q }} = {{ table_ref }}.{{ k | q }}{{ " AND " if not loop.last }}{% endfor %}{% endmacro %}

{% macro no_source_key(s, keys, table_ref) %}
NOT EXISTS (SELECT 1 FROM {{ keys }} AS {{ "k" | q }} WHERE {{ keymatch(s, "k", table_ref) }})
{% endmacro %}

{% macro count_rows(s) %}
SELECT COUNT(*) AS {{ "rows" | q }} FROM {{ s.name | q }}
{% endmacro %}

{% macro count_missing_in(s, keys) %}
SELECT COUNT(*) AS {{ "missing" | q }} FROM {{ s.name | q }}
WHERE {{ no_source_key(s, keys, s.name | q) }}
{% endmacro %}

{# A few of the keys about to go, for the log and the guard's message. #}
{% macro sample_missing_in(s, keys, limit) %}
SELECT {{ merge.collist(s.primary_key) }} FROM {{ s.name | q }}
WHERE {{ no_source_key(s, keys, s.name | q) }}
ORDER BY {{ merge.collist(s.primary_key) }}
LIMIT {{ limit | int }}
{% endmacro %}

{% macro delete_missing_in(s, keys) %}
DELETE FROM {{ s.name | q }}
WHERE {{ no_source_key(s, keys, s.name | q) }}
{% endmacro %}
