{# Session settings and the per-table advisory lock (session level: freed when the session dies). #}
{% macro utc_session() %}
SELECT set_config('TimeZone', 'UTC', false)
{% endmacro %}

{% macro try_lock() %}
SELECT pg_try_advisory_lock({{ p('key') }})
{% endmacro %}

{% macro lock() %}
SELECT pg_advisory_lock({{ p('key') }})
{% endmacro %}

{% macro unlock() %}
SELECT pg_advisory_unlock({{ p('key') }})
{% endmacro %}

{% macro set_lock_timeout() %}
SELECT set_config('lock_timeout', {{ p('ms') }}, false)
{% endmacro %}
