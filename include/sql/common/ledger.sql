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

{% macro running() %}
SELECT {{ "UpdateType" | q }} FROM {{ "DataUpdate" | q }}
WHERE {{ "TableName" | q }} = {{ p('table') }} AND {{ "NumberRecords" | q }} = {{ IN_PROGRESS }}
{% endmacro %}

{% macro columns() %}
{{ "DataUpdateID" | q }}, {{ "TableName" | q }}, {{ "UpdateType" | q }}, {{ "OperationId" | q }}, {{ "RunId" | q }}, {{ "StartDT" | q }}, {{ "EndDT" | q }}, {{ "MinimumDT" | q }}, {{ "NumberRecords" | q }}, {{ "WasSuccessful" | q }}, {{ "RowsInserted" | q }}, {{ "RowsUpdated" | q }}, {{ "ErrorMessage" | q }}
{% endmacro %}

{% macro recent_where(table) %}
{% if table %}WHERE {{ "TableName" | q }} = {{ p('table') }}{% endif %}
{% endmacro %}

{% macro since() %}
SELECT {{ columns() }} FROM {{ "DataUpdate" | q }}
WHERE {{ "StartDT" | q }} >= {{ p('since') }}
ORDER BY {{ "DataUpdateID" | q }}
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
