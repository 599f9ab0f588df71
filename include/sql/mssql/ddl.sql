{# SQL Server: target table DDL, existence checks, and the session statements the target runs
   (session options, explicit transactions, application locks).
   s: TableSchema, types: column -> DDL type. Identifiers only through | q (brackets, ] doubled);
   values only through p('name') (pymssql %(name)s, quoted by the driver). #}
{% import "common/ddl.sql" as ddl %}

{# ------------------------------------------------------------------ session #}
{# Run once per connection. XACT_ABORT: any run-time error rolls the whole transaction back.
   The ANSI options are the ones filtered indexes (DataUpdate) and indexed views require of
   every session that modifies the table; pymssql sets most of them already, we do not rely on it. #}
{% macro session_setup() %}
SET XACT_ABORT ON;
SET NOCOUNT OFF;
SET ANSI_NULLS ON;
SET ANSI_PADDING ON;
SET ANSI_WARNINGS ON;
SET ARITHABORT ON;
SET CONCAT_NULL_YIELDS_NULL ON;
SET QUOTED_IDENTIFIER ON;
SET NUMERIC_ROUNDABORT OFF
{% endmacro %}

{% macro begin() %}
BEGIN TRANSACTION
{% endmacro %}

{% macro commit() %}
COMMIT TRANSACTION
{% endmacro %}

{# After an error XACT_ABORT may already have rolled back: only roll back what is still open. #}
{% macro rollback() %}
IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION
{% endmacro %}

{# ------------------------------------------------------------------ locks #}
{# The per-table sync lock. Owned by the session, so it outlives the sync's transactions and the
   server frees it when the session ends (a killed worker included). Return code: 0 granted,
   1 granted after waiting, -1 timeout, -2 cancelled, -3 deadlock victim, -999 error. #}
{% macro table_applock() %}
DECLARE @result INT;
EXEC @result = [sys].[sp_getapplock] @Resource = {{ p('resource') }}, @LockMode = 'Exclusive', @LockOwner = 'Session', @LockTimeout = {{ p('timeout_ms') }}, @DbPrincipal = 'public';
SELECT @result AS [result]
{% endmacro %}

{% macro release_table_applock() %}
DECLARE @result INT;
EXEC @result = [sys].[sp_releaseapplock] @Resource = {{ p('resource') }}, @LockOwner = 'Session', @DbPrincipal = 'public';
SELECT @result AS [result]
{% endmacro %}

{# Serialises concurrent "create if missing" of tables until the creating transaction ends. #}
{% macro ddl_applock() %}
DECLARE @result INT;
EXEC @result = [sys].[sp_getapplock] @Resource = {{ p('resource') }}, @LockMode = 'Exclusive', @LockOwner = 'Transaction', @LockTimeout = {{ p('timeout_ms') }}, @DbPrincipal = 'public';
SELECT @result AS [result]
{% endmacro %}

{# ------------------------------------------------------------------ tables #}
{# name: the bracket-quoted table name, bound as a value (OBJECT_ID parses it). No row = no table. #}
{% macro table_exists(name) %}
SELECT 1 AS [present] WHERE OBJECT_ID({{ p('name') }}, N'U') IS NOT NULL
{% endmacro %}

{% macro create_table(s, types, pk_name) %}
{{ ddl.create_table(s, types, pk_name, if_not_exists=False, null_word="NULL", pk_kind="CLUSTERED") }}
{% endmacro %}

{% macro create_index(s, index, cols) %}
{{ ddl.create_index(s, index, cols, if_not_exists=False, kind="NONCLUSTERED") }}
{% endmacro %}

{# Column ids of the target table by name, so a bulk copy maps by name even when an existing
   table has its columns in another order. #}
{% macro column_ids() %}
SELECT [c].[name] AS [column_name], [c].[column_id] AS [column_id]
FROM [sys].[columns] AS [c]
WHERE [c].[object_id] = OBJECT_ID({{ p('name') }}, N'U')
{% endmacro %}
