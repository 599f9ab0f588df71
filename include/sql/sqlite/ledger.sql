{# DataUpdate on SQLite: DDL, insert returning the id, row limit. The rest is in common/ledger.sql.
   Times are UTC text 'YYYY-MM-DD HH:MM:SS.ffffff', which sorts like the times. #}
{% import "common/ledger.sql" as common %}
{% macro create() %}
CREATE TABLE IF NOT EXISTS {{ "DataUpdate" | q }} (
    "DataUpdateID" INTEGER PRIMARY KEY AUTOINCREMENT,
    "TableName" TEXT NOT NULL,
    "UpdateType" TEXT NOT NULL,
    "OperationId" TEXT NOT NULL,
    "RunId" TEXT,
    "StartDT" TEXT NOT NULL,
    "EndDT" TEXT,
    "MinimumDT" TEXT,
    "NumberRecords" INTEGER NOT NULL,
    "WasSuccessful" INTEGER NOT NULL DEFAULT 0,
    "RowsInserted" INTEGER,
    "RowsUpdated" INTEGER,
    "ErrorMessage" TEXT,
    "ConvertedFromTimeZone" TEXT,
    "RowsDeleted" INTEGER,
    "PostProcessError" TEXT,
    "PostProcessFailedDT" TEXT
);
{{ ensure_indexes() }}
{% endmacro %}

{% macro ensure_indexes() %}
CREATE INDEX IF NOT EXISTS "IX_DataUpdate_LastSuccess" ON "DataUpdate" ("TableName", "UpdateType", "WasSuccessful", "StartDT");
CREATE INDEX IF NOT EXISTS "IX_DataUpdate_InProgress" ON "DataUpdate" ("NumberRecords", "TableName");
{{ latest_indexes() }}
{% endmacro %}

{# Health's read (common.latest): every row by pair, the successes, the failures. #}
{% macro latest_indexes() %}
CREATE INDEX IF NOT EXISTS "IX_DataUpdate_Latest" ON "DataUpdate" ("TableName", "UpdateType", "DataUpdateID");
CREATE INDEX IF NOT EXISTS "IX_DataUpdate_LatestSuccess" ON "DataUpdate" ("TableName", "UpdateType", "DataUpdateID") WHERE "WasSuccessful" = 1;
CREATE INDEX IF NOT EXISTS "IX_DataUpdate_LatestFailure" ON "DataUpdate" ("TableName", "UpdateType", "DataUpdateID") WHERE "NumberRecords" = {{ FAILED }}
{% endmacro %}

{% macro start() %}
{{ common.start() }}{{ common.start_values() }} RETURNING "DataUpdateID"
{% endmacro %}

{% macro recent(table=None) %}
SELECT {{ common.columns() }} FROM {{ "DataUpdate" | q }} {{ common.recent_where(table) }}
ORDER BY {{ "DataUpdateID" | q }} DESC LIMIT {{ p('limit') }}
{% endmacro %}
