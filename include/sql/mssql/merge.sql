{# SQL Server: session temp staging, de-duplication and the guarded MERGE.
   Temp tables go through | temp: '#' + name, bracket-quoted ([#StagingItems_0a1b2c3d4e5f]), at most
   116 characters. They live in tempdb, whose collation may differ from the database's: string
   columns are declared COLLATE DATABASE_DEFAULT so comparing them with the target never raises a
   collation conflict, and keys compare the way the target's primary key does.
   "__datasync_seq" (IDENTITY, filled by the server in load order; the bulk copy skips it) makes
   the later of two rows with the same key and LastUpdateDT win, as on the other targets. #}
{% import "common/merge.sql" as common %}
{% macro collist(cols, prefix="") %}{{ common.collist(cols, prefix) }}{% endmacro %}

{% macro create_staging(s, staging, types) %}
CREATE TABLE {{ staging | temp }} (
{% for c in s.columns %}
    {{ c.name | q }} {{ types[c.name] }}{% if c.kind == "string" %} COLLATE DATABASE_DEFAULT{% endif %} NULL,
{% endfor %}
    {{ "__datasync_seq" | q }} BIGINT IDENTITY(1, 1) NOT NULL
)
{% endmacro %}

{# Latest LastUpdateDT per full key wins; the unique clustered index both proves there is one
   source row per key (MERGE raises 8672 otherwise) and gives MERGE its rows in key order. #}
{% macro dedupe(s, staging, dedup) %}
{{ common.latest_per_key(s, staging | temp, "__datasync_seq" | q, into=(dedup | temp)) }};
CREATE UNIQUE CLUSTERED INDEX {{ "UX_Dedup" | q }} ON {{ dedup | temp }} ({{ collist(s.primary_key) }})
{% endmacro %}

{# HOLDLOCK (serializable range locks on the target) makes the match/insert decision atomic
   against concurrent writers of the same keys; the per-table applock keeps other syncs out too.
   A matched row is only overwritten by a strictly newer one. OUTPUT $action counts exactly what
   was inserted and updated; the two counts are the batch's one result set. #}
{% macro merge(s, dedup) %}
SET NOCOUNT ON;
DECLARE @changes TABLE ({{ "action" | q }} NVARCHAR(10) NOT NULL);
MERGE {{ s.name | q }} WITH (HOLDLOCK) AS {{ "target" | q }}
USING {{ dedup | temp }} AS {{ "source" | q }}
ON {{ common.keymatch(s, "target", "source") }}
WHEN MATCHED AND {{ "source" | q }}.{{ s.last_update_column | q }} > {{ "target" | q }}.{{ s.last_update_column | q }} THEN
    UPDATE SET
{% for c in s.non_key_columns %}
        {{ c | q }} = {{ "source" | q }}.{{ c | q }}{{ "," if not loop.last }}
{% endfor %}
WHEN NOT MATCHED BY TARGET THEN
    INSERT ({{ collist(s.column_names) }})
    VALUES ({{ collist(s.column_names, q("source") ~ ".") }})
OUTPUT $action INTO @changes;
SET NOCOUNT OFF;
SELECT COUNT_BIG(CASE WHEN {{ "action" | q }} = N'INSERT' THEN 1 END) AS {{ "inserted" | q }},
       COUNT_BIG(CASE WHEN {{ "action" | q }} = N'UPDATE' THEN 1 END) AS {{ "updated" | q }}
FROM @changes
{% endmacro %}

{% macro drop_temp(name) %}
DROP TABLE IF EXISTS {{ name | temp }}
{% endmacro %}
