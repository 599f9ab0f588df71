{# Delete detection on SQL Server: the source's keys in a session temp table #Keys{Table}_{OperationId}
   (bulk copied, strings COLLATE DATABASE_DEFAULT like the merge staging, so keys compare as the
   target's primary key does), a clustered index on the key, then DELETE TOP (n) with a join on
   the key table, repeated until nothing is left. All of it runs inside the sync's transaction and
   under the table's applock; the batches keep each statement's locks (no escalation to a table
   lock for readers of other rows) and memory grant small, and MaxDeletePercent bounds the log. #}
{% import "common/deletes.sql" as common %}
{% import "common/merge.sql" as merge %}

{% macro create_keys(s, keys, types) %}
CREATE TABLE {{ keys | temp }} (
{% for c in s.columns %}
    {{ c.name | q }} {{ types[c.name] }}{% if c.kind == "string" %} COLLATE DATABASE_DEFAULT{% endif %} NOT NULL{{ "," if not loop.last }}
{% endfor %}
)
{% endmacro %}

{% macro index_keys(s, keys) %}
CREATE CLUSTERED INDEX {{ "CX_Keys" | q }} ON {{ keys | temp }} ({{ merge.collist(s.primary_key) }})
{% endmacro %}

{% macro count_rows(s) %}
SELECT COUNT_BIG(*) AS {{ "rows" | q }} FROM {{ s.name | q }}
{% endmacro %}

{% macro count_missing(s, keys) %}
SELECT COUNT_BIG(*) AS {{ "missing" | q }}
FROM {{ s.name | q }} AS {{ "t" | q }}
LEFT JOIN {{ keys | temp }} AS {{ "k" | q }} ON {{ common.keymatch(s, "k", q("t")) }}
WHERE {{ "k" | q }}.{{ s.primary_key[0] | q }} IS NULL
{% endmacro %}

{% macro sample_missing(s, keys, limit) %}
SELECT TOP ({{ limit | int }}) {{ merge.collist(s.primary_key, q("t") ~ ".") }}
FROM {{ s.name | q }} AS {{ "t" | q }}
LEFT JOIN {{ keys | temp }} AS {{ "k" | q }} ON {{ common.keymatch(s, "k", q("t")) }}
WHERE {{ "k" | q }}.{{ s.primary_key[0] | q }} IS NULL
ORDER BY {{ merge.collist(s.primary_key, q("t") ~ ".") }}
{% endmacro %}

{# One batch: the rows deleted, as one named result column (pymssql drops unnamed ones). The loop
   stops once past p('limit') (the guard's bound; -1: no bound): the caller then refuses and rolls
   back, so a refused delete never writes more than MaxDeletePercent of the table to the log. #}
{% macro delete_missing(s, keys) %}
SET NOCOUNT ON;
DECLARE @deleted BIGINT = 0;
DECLARE @batch BIGINT = 1;
WHILE @batch > 0 AND ({{ p('limit') }} < 0 OR @deleted <= {{ p('limit') }})
BEGIN
    DELETE TOP ({{ p('batch_size') }}) {{ "t" | q }}
    FROM {{ s.name | q }} AS {{ "t" | q }}
    LEFT JOIN {{ keys | temp }} AS {{ "k" | q }} ON {{ common.keymatch(s, "k", q("t")) }}
    WHERE {{ "k" | q }}.{{ s.primary_key[0] | q }} IS NULL;
    SET @batch = @@ROWCOUNT;
    SET @deleted = @deleted + @batch;
END;
SET NOCOUNT OFF;
SELECT @deleted AS {{ "deleted" | q }}
{% endmacro %}
