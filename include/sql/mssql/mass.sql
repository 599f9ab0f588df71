{# SQL Server mass load with PrepurgeData. Every statement runs inside the one mass transaction:
   ALTER INDEX, TRUNCATE TABLE (Sch-M lock: readers wait instead of seeing an empty table) and the
   TABLOCK bulk copy are all rolled back if the load fails or its session dies.
   Only non-clustered, non-PK, non-unique indexes are disabled: disabling the clustered index makes
   the table unreadable, disabling a unique index or the PK drops what depends on it. #}

{# Indexes to disable; table: the bracket-quoted name, bound. Already disabled ones (a DBA's) are
   left alone. #}
{% macro disposable_indexes() %}
SELECT [i].[name] AS [index_name]
FROM [sys].[indexes] AS [i]
WHERE [i].[object_id] = OBJECT_ID({{ p('table') }}, N'U')
  AND [i].[type] = 2
  AND [i].[is_primary_key] = 0
  AND [i].[is_unique] = 0
  AND [i].[is_unique_constraint] = 0
  AND [i].[is_disabled] = 0
  AND [i].[is_hypothetical] = 0
ORDER BY [i].[index_id]
{% endmacro %}

{% macro disable_index(s, index) %}
ALTER INDEX {{ index | q }} ON {{ s.name | q }} DISABLE
{% endmacro %}

{% macro truncate(s) %}
TRUNCATE TABLE {{ s.name | q }}
{% endmacro %}

{# ReIndexData: rebuild (and so re-enable) every index of the table. #}
{% macro rebuild_all(s) %}
ALTER INDEX ALL ON {{ s.name | q }} REBUILD
{% endmacro %}

{# Without ReIndexData: rebuild just the indexes begin disabled, which re-enables them. #}
{% macro rebuild_index(s, index) %}
ALTER INDEX {{ index | q }} ON {{ s.name | q }} REBUILD
{% endmacro %}

{% macro update_statistics(s) %}
UPDATE STATISTICS {{ s.name | q }}
{% endmacro %}
