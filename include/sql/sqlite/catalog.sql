{# An existing table as SQLite's catalog has it: (name, declared type, length, precision, scale,
   nullable, has_default); the declared type ("NVARCHAR(30)") is parsed by the target.
   An INTEGER PRIMARY KEY is the rowid: SQLite fills it, so it counts as having a default. #}
{% macro columns() %}
SELECT "name", "type", NULL, NULL, NULL,
       CASE WHEN "notnull" = 1 THEN 0 ELSE 1 END,
       CASE WHEN "dflt_value" IS NOT NULL OR ("pk" = 1 AND upper("type") = 'INTEGER') THEN 1 ELSE 0 END
FROM pragma_table_info({{ p('name') }})
ORDER BY "cid"
{% endmacro %}

{% macro primary_key() %}
SELECT "name" FROM pragma_table_info({{ p('name') }}) WHERE "pk" > 0 ORDER BY "pk"
{% endmacro %}

{# The names of a table's indexes (datasync's ledger upgrade looks for its own). #}
{% macro indexes() %}
SELECT "name" FROM pragma_index_list({{ p('name') }}) ORDER BY "name"
{% endmacro %}
