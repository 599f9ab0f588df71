{# DDL statements the dialects share. s: TableSchema, types: column -> DDL type.
   Names are always quoted, so they keep their case on every target. #}
{% macro collist(cols, prefix="") %}{% for c in cols %}{{ prefix }}{{ c | q }}{{ ", " if not loop.last }}{% endfor %}{% endmacro %}

{% macro count_rows(name) %}
SELECT COUNT(*) AS {{ "n" | q }} FROM {{ name | q }}
{% endmacro %}

{# null_word: the word for a nullable column ('' where NULL is the default); pk_kind: e.g. 'CLUSTERED'. #}
{% macro create_table(s, types, pk_name, if_not_exists=True, null_word="", pk_kind="") %}
CREATE TABLE {{ "IF NOT EXISTS " if if_not_exists }}{{ s.name | q }} (
{% for c in s.columns %}
    {{ c.name | q }} {{ types[c.name] }}{% if not c.nullable or c.name in s.primary_key %} NOT NULL{% elif null_word %} {{ null_word }}{% endif %},
{% endfor %}
    CONSTRAINT {{ pk_name | q }} PRIMARY KEY {{ pk_kind ~ " " if pk_kind }}({{ collist(s.primary_key) }})
)
{% endmacro %}

{% macro create_index(s, index, cols, if_not_exists=True, kind="") %}
CREATE {{ kind ~ " " if kind }}INDEX {{ "IF NOT EXISTS " if if_not_exists }}{{ index | q }} ON {{ s.name | q }} ({{ collist(cols) }})
{% endmacro %}
