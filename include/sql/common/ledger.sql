{# DataUpdate statements shared by every dialect: ANSI SQL, quoted names, bound values.
   Each dialect's ledger.sql imports these and adds its DDL and row-limiting syntax. #}
{% macro start() %}
INSERT INTO {{ "DataUpdate" | q }} ({{ "TableName" | q }}, {{ "UpdateType" | q }}, {{ "OperationId" | q }}, {{ "RunId" | q }}, {{ "StartDT" | q }}, {{ "MinimumDT" | q }}, {{ "NumberRecords" | q }}, {{ "WasSuccessful" | q }})
{% endmacro %}
{% macro start_values() %}
VALUES ({{ p('table') }}, {{ p('type') }}, {{ p('operation_id') }}, {{ p('run_id') }}, {{ p('start') }}, {{ p('minimum_dt') }}, {{ IN_PROGRESS }}, 0)
{% endmacro %}

{% macro finish() %}
UPDATE {{ "DataUpdate" | q }}
SET {{ "EndDT" | q }} = {{ p('end') }},
    {{ "NumberRecords" | q }} = {{ p('records') }},
    {{ "WasSuccessful" | q }} = 1,
    {{ "RowsInserted" | q }} = {{ p('inserted') }},
    {{ "RowsUpdated" | q }} = {{ p('updated') }},
    {{ "RowsDeleted" | q }} = {{ p('deleted') }},
    {{ "ErrorMessage" | q }} = NULL
WHERE {{ "DataUpdateID" | q }} = {{ p('id') }}
{% endmacro %}

{% macro fail() %}
UPDATE {{ "DataUpdate" | q }}
SET {{ "EndDT" | q }} = {{ p('end') }},
    {{ "NumberRecords" | q }} = {{ FAILED }},
    {{ "WasSuccessful" | q }} = 0,
    {{ "ErrorMessage" | q }} = {{ p('error') }}
WHERE {{ "DataUpdateID" | q }} = {{ p('id') }} AND {{ "NumberRecords" | q }} = {{ IN_PROGRESS }}
{% endmacro %}

{% macro close_orphans() %}
UPDATE {{ "DataUpdate" | q }}
SET {{ "EndDT" | q }} = {{ p('end') }},
    {{ "NumberRecords" | q }} = {{ FAILED }},
    {{ "WasSuccessful" | q }} = 0,
    {{ "ErrorMessage" | q }} = {{ p('error') }}
WHERE {{ "TableName" | q }} = {{ p('table') }} AND {{ "NumberRecords" | q }} = {{ IN_PROGRESS }}
{% endmacro %}

{% macro in_progress_tables() %}
SELECT DISTINCT {{ "TableName" | q }} FROM {{ "DataUpdate" | q }} WHERE {{ "NumberRecords" | q }} = {{ IN_PROGRESS }}
{% endmacro %}

{% macro last_success() %}
SELECT {{ "UpdateType" | q }}, MAX({{ "StartDT" | q }})
FROM {{ "DataUpdate" | q }}
WHERE {{ "TableName" | q }} = {{ p('table') }} AND {{ "WasSuccessful" | q }} = 1
GROUP BY {{ "UpdateType" | q }}
{% endmacro %}

{# When delete detection last succeeded for the table: a successful row with RowsDeleted set. #}
{% macro last_delete_detection() %}
SELECT MAX({{ "StartDT" | q }}) AS {{ "last_detection" | q }} FROM {{ "DataUpdate" | q }}
WHERE {{ "TableName" | q }} = {{ p('table') }} AND {{ "WasSuccessful" | q }} = 1 AND {{ "RowsDeleted" | q }} IS NOT NULL
{% endmacro %}

{% macro running() %}
SELECT {{ "UpdateType" | q }} FROM {{ "DataUpdate" | q }}
WHERE {{ "TableName" | q }} = {{ p('table') }} AND {{ "NumberRecords" | q }} = {{ IN_PROGRESS }}
{% endmacro %}

{% macro columns() %}
{{ "DataUpdateID" | q }}, {{ "TableName" | q }}, {{ "UpdateType" | q }}, {{ "OperationId" | q }}, {{ "RunId" | q }}, {{ "StartDT" | q }}, {{ "EndDT" | q }}, {{ "MinimumDT" | q }}, {{ "NumberRecords" | q }}, {{ "WasSuccessful" | q }}, {{ "RowsInserted" | q }}, {{ "RowsUpdated" | q }}, {{ "ErrorMessage" | q }}, {{ "RowsDeleted" | q }}, {{ "PostProcessError" | q }}, {{ "PostProcessFailedDT" | q }}
{% endmacro %}

{# A committed sync's post-processor failed (error and since when: carried over from the
   table's previous sync when that one's post-processor had failed too) or succeeded (both NULL). #}
{% macro mark_post_process() %}
UPDATE {{ "DataUpdate" | q }}
SET {{ "PostProcessError" | q }} = {{ p('error') }},
    {{ "PostProcessFailedDT" | q }} = {{ p('since') }}
WHERE {{ "DataUpdateID" | q }} = {{ p('id') }}
{% endmacro %}

{% macro previous_post_process() %}
SELECT {{ "PostProcessFailedDT" | q }} FROM {{ "DataUpdate" | q }}
WHERE {{ "DataUpdateID" | q }} = (
    SELECT MAX({{ "DataUpdateID" | q }}) FROM {{ "DataUpdate" | q }}
    WHERE {{ "TableName" | q }} = {{ p('table') }} AND {{ "WasSuccessful" | q }} = 1 AND {{ "DataUpdateID" | q }} < {{ p('id') }}
)
{% endmacro %}

{% macro recent_where(table) %}
{% if table %}WHERE {{ "TableName" | q }} = {{ p('table') }}{% endif %}
{% endmacro %}

{% macro since() %}
SELECT {{ columns() }} FROM {{ "DataUpdate" | q }}
WHERE {{ "StartDT" | q }} >= {{ p('since') }}
ORDER BY {{ "DataUpdateID" | q }}
{% endmacro %}

{# Health and the DataSync page in one read: per table and type the last success, the
   last finished run and the last failure, plus every running row. Index-driven: the
   (TableName, UpdateType) pairs come from IX_DataUpdate_Latest (``pairs``: a dialect may
   walk that index instead), and each pair's MAX(DataUpdateID) is one backward seek into
   IX_DataUpdate_LatestSuccess / IX_DataUpdate_Latest / IX_DataUpdate_LatestFailure. #}
{% macro latest_pairs() %}
WITH {{ "k" | q }} AS (SELECT DISTINCT {{ "TableName" | q }}, {{ "UpdateType" | q }} FROM {{ "DataUpdate" | q }})
{% endmacro %}

{% macro latest_of_pair(condition) %}
SELECT (SELECT MAX({{ "s" | q }}.{{ "DataUpdateID" | q }}) FROM {{ "DataUpdate" | q }} {{ "s" | q }}
        WHERE {{ "s" | q }}.{{ "TableName" | q }} = {{ "k" | q }}.{{ "TableName" | q }} AND {{ "s" | q }}.{{ "UpdateType" | q }} = {{ "k" | q }}.{{ "UpdateType" | q }}
          AND {{ "s" | q }}.{{ condition }}) FROM {{ "k" | q }}
{% endmacro %}

{% macro latest(pairs=None) %}
{{ pairs or latest_pairs() }}
SELECT {{ columns() }} FROM {{ "DataUpdate" | q }}
WHERE {{ "DataUpdateID" | q }} IN (
    {{ latest_of_pair(("WasSuccessful" | q) ~ " = 1") }}
    UNION
    {{ latest_of_pair(("NumberRecords" | q) ~ " <> " ~ IN_PROGRESS) }}
    UNION
    {{ latest_of_pair(("NumberRecords" | q) ~ " = " ~ FAILED) }}
    UNION
    SELECT {{ "DataUpdateID" | q }} FROM {{ "DataUpdate" | q }}
    WHERE {{ "NumberRecords" | q }} = {{ IN_PROGRESS }}
)
ORDER BY {{ "DataUpdateID" | q }}
{% endmacro %}

{# The schedule's facts in one read (datasync.engine.schedule): each table's and type's last
   success, every running row, and the failures after the last success of their type. #}
{% macro schedule_facts() %}
SELECT {{ "d" | q }}.{{ "TableName" | q }}, {{ "d" | q }}.{{ "UpdateType" | q }}, {{ "d" | q }}.{{ "StartDT" | q }}, {{ "d" | q }}.{{ "NumberRecords" | q }}, {{ "d" | q }}.{{ "WasSuccessful" | q }}
FROM {{ "DataUpdate" | q }} {{ "d" | q }}
WHERE {{ "d" | q }}.{{ "NumberRecords" | q }} = {{ IN_PROGRESS }}
   OR {{ "d" | q }}.{{ "DataUpdateID" | q }} IN (
       SELECT MAX({{ "DataUpdateID" | q }}) FROM {{ "DataUpdate" | q }}
       WHERE {{ "WasSuccessful" | q }} = 1
       GROUP BY {{ "TableName" | q }}, {{ "UpdateType" | q }}
   )
   OR ({{ "d" | q }}.{{ "NumberRecords" | q }} = {{ FAILED }} AND {{ "d" | q }}.{{ "DataUpdateID" | q }} > COALESCE((
       SELECT MAX({{ "s" | q }}.{{ "DataUpdateID" | q }}) FROM {{ "DataUpdate" | q }} {{ "s" | q }}
       WHERE {{ "s" | q }}.{{ "TableName" | q }} = {{ "d" | q }}.{{ "TableName" | q }} AND {{ "s" | q }}.{{ "UpdateType" | q }} = {{ "d" | q }}.{{ "UpdateType" | q }}
         AND {{ "s" | q }}.{{ "WasSuccessful" | q }} = 1
   ), 0))
ORDER BY {{ "d" | q }}.{{ "DataUpdateID" | q }}
{% endmacro %}

{% macro purge() %}
DELETE FROM {{ "DataUpdate" | q }}
WHERE {{ "StartDT" | q }} < {{ p('cutoff') }}
  AND {{ "NumberRecords" | q }} <> {{ IN_PROGRESS }}
  AND {{ "DataUpdateID" | q }} NOT IN (
      SELECT MAX({{ "DataUpdateID" | q }}) FROM {{ "DataUpdate" | q }}
      WHERE {{ "WasSuccessful" | q }} = 1
      GROUP BY {{ "TableName" | q }}, {{ "UpdateType" | q }}
  )
{% endmacro %}

{# ---- upgrading the .NET service's DataUpdate (datasync.engine.ledger_upgrade).
   A row without OperationId was written by the .NET service in the server's local time;
   ConvertedFromTimeZone marks the rows already converted to UTC. #}
{# One of datasync's columns, nullable; type: the dialect's DDL type of it. #}
{% macro add_column(name, type) %}
ALTER TABLE {{ "DataUpdate" | q }} ADD COLUMN {{ name | q }} {{ type }}
{% endmacro %}

{% macro legacy_where(marked=True) %}
{{ "OperationId" | q }} IS NULL{% if marked %} AND {{ "ConvertedFromTimeZone" | q }} IS NULL{% endif %}
{% endmacro %}

{# marked: the table has ConvertedFromTimeZone already #}
{% macro legacy_count(marked=True) %}
SELECT COUNT(*) AS {{ "legacy_rows" | q }} FROM {{ "DataUpdate" | q }} WHERE {{ legacy_where(marked) }}
{% endmacro %}

{% macro legacy_rows() %}
SELECT {{ "DataUpdateID" | q }}, {{ "StartDT" | q }}, {{ "EndDT" | q }} FROM {{ "DataUpdate" | q }}
WHERE {{ legacy_where() }}
ORDER BY {{ "DataUpdateID" | q }}
{% endmacro %}

{% macro convert_legacy_row() %}
UPDATE {{ "DataUpdate" | q }}
SET {{ "StartDT" | q }} = {{ p('start') }},
    {{ "EndDT" | q }} = {{ p('end') }},
    {{ "ConvertedFromTimeZone" | q }} = {{ p('zone') }}
WHERE {{ "DataUpdateID" | q }} = {{ p('id') }} AND {{ legacy_where() }}
{% endmacro %}

{# A -2 row of the .NET service: no datasync sync owns it, and the .NET service is gone. #}
{% macro close_legacy_orphans() %}
UPDATE {{ "DataUpdate" | q }}
SET {{ "EndDT" | q }} = {{ p('end') }},
    {{ "NumberRecords" | q }} = {{ FAILED }},
    {{ "WasSuccessful" | q }} = 0,
    {{ "ErrorMessage" | q }} = {{ p('error') }}
WHERE {{ "NumberRecords" | q }} = {{ IN_PROGRESS }} AND {{ "OperationId" | q }} IS NULL
{% endmacro %}
