{# An existing table as SQL Server's catalog has it: (name, type, length, precision, scale,
   nullable, has_default). name: the bracket-quoted table name, bound (OBJECT_ID parses it).
   max_length is in bytes: NCHAR/NVARCHAR hold two per character; -1 is (MAX). #}
{% macro columns() %}
SELECT [c].[name] AS [column_name],
       [t].[name] AS [type_name],
       CASE WHEN [c].[max_length] = -1 OR [t].[name] IN (N'text', N'ntext') THEN NULL
            WHEN [t].[name] IN (N'nchar', N'nvarchar') THEN [c].[max_length] / 2
            WHEN [t].[name] IN (N'char', N'varchar') THEN [c].[max_length]
       END AS [char_length],
       CASE WHEN [t].[name] IN (N'decimal', N'numeric') THEN [c].[precision] END AS [numeric_precision],
       CASE WHEN [t].[name] IN (N'decimal', N'numeric') THEN [c].[scale] END AS [numeric_scale],
       CAST([c].[is_nullable] AS INT) AS [nullable],
       CASE WHEN [c].[default_object_id] <> 0 OR [c].[is_identity] = 1 OR [c].[is_computed] = 1 THEN 1 ELSE 0 END AS [has_default]
FROM [sys].[columns] AS [c]
JOIN [sys].[types] AS [t] ON [t].[user_type_id] = [c].[system_type_id]
WHERE [c].[object_id] = OBJECT_ID({{ p('name') }}, N'U')
ORDER BY [c].[column_id]
{% endmacro %}

{% macro primary_key() %}
SELECT [c].[name] AS [key_column]
FROM [sys].[indexes] AS [i]
JOIN [sys].[index_columns] AS [ic] ON [ic].[object_id] = [i].[object_id] AND [ic].[index_id] = [i].[index_id]
JOIN [sys].[columns] AS [c] ON [c].[object_id] = [ic].[object_id] AND [c].[column_id] = [ic].[column_id]
WHERE [i].[object_id] = OBJECT_ID({{ p('name') }}, N'U') AND [i].[is_primary_key] = 1
ORDER BY [ic].[key_ordinal]
{% endmacro %}

{# The names of a table's indexes (datasync's ledger upgrade looks for its own); a heap has a nameless row. #}
{% macro indexes() %}
SELECT [i].[name] AS [index_name]
FROM [sys].[indexes] AS [i]
WHERE [i].[object_id] = OBJECT_ID({{ p('name') }}, N'U') AND [i].[name] IS NOT NULL
ORDER BY [i].[name]
{% endmacro %}
