{# DataUpdate on PostgreSQL: DDL, insert returning the id, row limit. The rest is in common/ledger.sql.
   Times are UTC in TIMESTAMP (without time zone) columns; the session time zone is UTC too. #}
{% import "common/ledger.sql" as common %}
{% macro create() %}
CREATE TABLE IF NOT EXISTS {{ "DataUpdate" | q }} (
    "DataUpdateID" BIGINT GENERATED ALWAYS AS IDENTITY CONSTRAINT "PK_DataUpdate" PRIMARY KEY,
    "TableName" VARCHAR(128) NOT NULL,
    "UpdateType" VARCHAR(16) NOT NULL,
    "OperationId" VARCHAR(64) NOT NULL,
    "RunId" VARCHAR(250),
    "StartDT" TIMESTAMP NOT NULL,
    "EndDT" TIMESTAMP,
    "MinimumDT" TIMESTAMP,
    "NumberRecords" BIGINT NOT NULL,
    "WasSuccessful" SMALLINT NOT NULL DEFAULT 0 CONSTRAINT "CK_DataUpdate_WasSuccessful" CHECK ("WasSuccessful" IN (0, 1)),
    "RowsInserted" BIGINT,
    "RowsUpdated" BIGINT,
    "ErrorMessage" TEXT,
    "ConvertedFromTimeZone" VARCHAR(64),
    "RowsDeleted" BIGINT,
    "PostProcessError" TEXT,
    "PostProcessFailedDT" TIMESTAMP
);
{{ ensure_indexes() }}
{% endmacro %}

{% macro ensure_indexes() %}
CREATE INDEX IF NOT EXISTS "IX_DataUpdate_LastSuccess" ON "DataUpdate" ("TableName", "UpdateType", "StartDT") WHERE "WasSuccessful" = 1;
CREATE INDEX IF NOT EXISTS "IX_DataUpdate_InProgress" ON "DataUpdate" ("TableName") WHERE "NumberRecords" = {{ IN_PROGRESS }};
CREATE INDEX IF NOT EXISTS "IX_DataUpdate_StartDT" ON "DataUpdate" ("StartDT");
{{ latest_indexes() }}
{% endmacro %}

{# Health's read (common.latest): every row by pair, the successes, the failures. #}
{% macro latest_indexes() %}
CREATE INDEX IF NOT EXISTS "IX_DataUpdate_Latest" ON "DataUpdate" ("TableName", "UpdateType", "DataUpdateID") INCLUDE ("NumberRecords");
CREATE INDEX IF NOT EXISTS "IX_DataUpdate_LatestSuccess" ON "DataUpdate" ("TableName", "UpdateType", "DataUpdateID") WHERE "WasSuccessful" = 1;
CREATE INDEX IF NOT EXISTS "IX_DataUpdate_LatestFailure" ON "DataUpdate" ("TableName", "UpdateType", "DataUpdateID") WHERE "NumberRecords" = {{ FAILED }}
{% endmacro %}

{# Health's read with the pairs found by walking IX_DataUpdate_Latest (a loose index scan:
   one seek per pair) instead of reading every row for DISTINCT. #}
{% macro latest() %}
{% set pairs %}
WITH RECURSIVE "k"("TableName", "UpdateType") AS (
    (SELECT "TableName", "UpdateType" FROM "DataUpdate" ORDER BY "TableName", "UpdateType" LIMIT 1)
    UNION ALL
    SELECT "n"."TableName", "n"."UpdateType" FROM "k" CROSS JOIN LATERAL (
        SELECT "d"."TableName", "d"."UpdateType" FROM "DataUpdate" "d"
        WHERE ("d"."TableName", "d"."UpdateType") > ("k"."TableName", "k"."UpdateType")
        ORDER BY "d"."TableName", "d"."UpdateType" LIMIT 1
    ) "n"
)
{% endset %}
{{ common.latest(pairs) }}
{% endmacro %}

{% macro start() %}
{{ common.start() }}{{ common.start_values() }} RETURNING "DataUpdateID"
{% endmacro %}

{% macro recent(table=None) %}
SELECT {{ common.columns() }} FROM {{ "DataUpdate" | q }} {{ common.recent_where(table) }}
ORDER BY {{ "DataUpdateID" | q }} DESC LIMIT {{ p('limit') }}
{% endmacro %}
