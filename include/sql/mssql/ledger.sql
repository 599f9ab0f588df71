{# DataUpdate on SQL Server: DDL, insert returning the id, row limit, and the statements whose
   result columns need names (pymssql drops a result set with an unnamed column).
   The rest is ANSI and comes from common/ledger.sql. Times are UTC in DATETIME2 columns. #}
{% import "common/ledger.sql" as common %}

{# Statements separated by ";\n" (ensure_ledger runs them one by one in one transaction).
   IX_DataUpdate_LastSuccess serves "last success per table and type" (schedule, purge),
   IX_DataUpdate_InProgress "what is running / orphaned" (filtered: only -2 rows),
   IX_DataUpdate_StartDT the purge and health windows; IX_DataUpdate_Latest (every row),
   _LatestSuccess and _LatestFailure (filtered) health's per-pair MAX(DataUpdateID) seeks. #}
{% macro create() %}
CREATE TABLE {{ "DataUpdate" | q }} (
    [DataUpdateID] BIGINT IDENTITY(1, 1) NOT NULL,
    [TableName] NVARCHAR(128) NOT NULL,
    [UpdateType] NVARCHAR(16) NOT NULL,
    [OperationId] NVARCHAR(64) NOT NULL,
    [RunId] NVARCHAR(250) NULL,
    [StartDT] DATETIME2 NOT NULL,
    [EndDT] DATETIME2 NULL,
    [MinimumDT] DATETIME2 NULL,
    [NumberRecords] BIGINT NOT NULL,
    [WasSuccessful] BIT NOT NULL CONSTRAINT [DF_DataUpdate_WasSuccessful] DEFAULT (0),
    [RowsInserted] BIGINT NULL,
    [RowsUpdated] BIGINT NULL,
    [ErrorMessage] NVARCHAR(MAX) NULL,
    [ConvertedFromTimeZone] NVARCHAR(64) NULL,
    [RowsDeleted] BIGINT NULL,
    [PostProcessError] NVARCHAR(MAX) NULL,
    [PostProcessFailedDT] DATETIME2 NULL,
    CONSTRAINT [PK_DataUpdate] PRIMARY KEY CLUSTERED ([DataUpdateID])
);
{{ indexes() }}
{% endmacro %}

{% set INDEXES = [
    ("IX_DataUpdate_LastSuccess", "([TableName], [UpdateType], [StartDT]) WHERE [WasSuccessful] = 1"),
    ("IX_DataUpdate_InProgress", "([TableName], [UpdateType]) WHERE [NumberRecords] = " ~ IN_PROGRESS),
    ("IX_DataUpdate_StartDT", "([StartDT])"),
    ("IX_DataUpdate_Latest", "([TableName], [UpdateType], [DataUpdateID]) INCLUDE ([NumberRecords])"),
    ("IX_DataUpdate_LatestSuccess", "([TableName], [UpdateType], [DataUpdateID]) WHERE [WasSuccessful] = 1"),
    ("IX_DataUpdate_LatestFailure", "([TableName], [UpdateType], [DataUpdateID]) WHERE [NumberRecords] = " ~ FAILED),
] %}

{# guarded: each one only if the table does not have it yet (a .NET ledger being upgraded). #}
{% macro indexes(guarded=False) %}
{% for name, body in INDEXES %}
{% if guarded %}IF NOT EXISTS (SELECT 1 FROM [sys].[indexes] WHERE [object_id] = OBJECT_ID(N'[DataUpdate]', N'U') AND [name] = N'{{ name }}') {% endif %}CREATE NONCLUSTERED INDEX {{ name | q }} ON {{ "DataUpdate" | q }} {{ body }}{{ ";" if not loop.last }}
{% endfor %}
{% endmacro %}

{# Upgrading the .NET service's DataUpdate: one of datasync's columns, nullable (T-SQL has no ADD COLUMN). #}
{% macro add_column(name, type) %}
ALTER TABLE {{ "DataUpdate" | q }} ADD {{ name | q }} {{ type }} NULL
{% endmacro %}

{% macro ensure_indexes() %}
{{ indexes(guarded=True) }}
{% endmacro %}

{% macro start() %}
{{ common.start() }}
OUTPUT INSERTED.{{ "DataUpdateID" | q }}
{{ common.start_values() }}
{% endmacro %}

{% macro recent(table=None) %}
SELECT TOP ({{ p('limit') }}) {{ common.columns() }} FROM {{ "DataUpdate" | q }} {{ common.recent_where(table) }}
ORDER BY {{ "DataUpdateID" | q }} DESC
{% endmacro %}

{% macro last_success() %}
SELECT {{ "UpdateType" | q }}, MAX({{ "StartDT" | q }}) AS {{ "StartDT" | q }}
FROM {{ "DataUpdate" | q }}
WHERE {{ "TableName" | q }} = {{ p('table') }} AND {{ "WasSuccessful" | q }} = 1
GROUP BY {{ "UpdateType" | q }}
{% endmacro %}
