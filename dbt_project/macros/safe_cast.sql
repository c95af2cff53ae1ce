{# A cast that yields null instead of failing, on DuckDB and on Postgres. Free-text columns
   such as field-history values hold many kinds of values; only the right ones cast. #}
{% macro safe_cast_timestamp(expr) -%}
    {{ return(adapter.dispatch('safe_cast_timestamp', 'revwh')(expr)) }}
{%- endmacro %}

{% macro default__safe_cast_timestamp(expr) -%}
    case when {{ expr }} ~ '^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$'
         then cast({{ expr }} as timestamp) end
{%- endmacro %}

{% macro duckdb__safe_cast_timestamp(expr) -%}
    try_cast({{ expr }} as timestamp)
{%- endmacro %}
