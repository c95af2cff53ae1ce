{# Date helpers that give the same result on DuckDB and PostgreSQL. Every "today" is the run's
   logical date, var('as_of_date'), never current_date: a rerun for the same date is identical. #}

{% macro as_of_date() -%}
    cast('{{ var("as_of_date") }}' as date)
{%- endmacro %}

{# The first instant after the as-of date: events strictly before it are known at the run. #}
{% macro as_of_end() -%}
    (cast('{{ var("as_of_date") }}' as date) + 1)
{%- endmacro %}

{# date_trunc that always returns a date (Postgres returns a timestamp with time zone). #}
{% macro trunc_date(part, expr) -%}
    cast({{ dbt.date_trunc(part, expr) }} as date)
{%- endmacro %}

{# n days after a date, as a date. #}
{% macro add_days(expr, n) -%}
    cast(cast({{ expr }} as date) + ({{ n }}) as date)
{%- endmacro %}

{# Whole days from a to b (dates). #}
{% macro days_between(a, b) -%}
    cast({{ dbt.datediff(a, b, "day") }} as bigint)
{%- endmacro %}

{# Days (fractional: seconds / 86400) from timestamp a to timestamp b. #}
{% macro fractional_days_between(a, b) -%}
    (extract(epoch from (({{ b }}) - ({{ a }}))) / 86400.0)
{%- endmacro %}

{# 'YYYY-Qn' for the quarter of a date. #}
{% macro quarter_label(expr) -%}
    {{ dbt.concat([
        "cast(cast(extract(year from " ~ expr ~ ") as integer) as " ~ dbt.type_string() ~ ")",
        "'-Q'",
        "cast(cast(extract(quarter from " ~ expr ~ ") as integer) as " ~ dbt.type_string() ~ ")"]) }}
{%- endmacro %}

{# One row per day from start to end (inclusive), column `date_day`, as a subquery body.
   dbt_utils is not available here; DuckDB and PostgreSQL share this generate_series form. #}
{% macro date_spine(start_date, end_date) -%}
    select cast(g.d as date) as date_day
    from generate_series(cast({{ start_date }} as timestamp), cast({{ end_date }} as timestamp),
                         interval '1 day') as g(d)
{%- endmacro %}

{# Record ids compare byte-wise (Salesforce ids are case-sensitive), whatever the collation. #}
{% macro binary_text(expr) -%}
    {{ return(adapter.dispatch('binary_text', 'revwh')(expr)) }}
{%- endmacro %}

{% macro default__binary_text(expr) -%}
    ({{ expr }}) collate "C"
{%- endmacro %}

{% macro duckdb__binary_text(expr) -%}
    {{ expr }}
{%- endmacro %}

{# Set-returning: one row per day from a to b (dates, inclusive) for each input row, used in a
   select list: `select id, {{ expand_days('a', 'b') }} as day from t`. No range join needed. #}
{% macro expand_days(a, b) -%}
    {{ return(adapter.dispatch('expand_days', 'revwh')(a, b)) }}
{%- endmacro %}

{% macro default__expand_days(a, b) -%}
    cast(generate_series(cast({{ a }} as timestamp), cast({{ b }} as timestamp), interval '1 day') as date)
{%- endmacro %}

{% macro duckdb__expand_days(a, b) -%}
    cast(unnest(generate_series(cast({{ a }} as timestamp), cast({{ b }} as timestamp), interval '1 day')) as date)
{%- endmacro %}

{# Round a double to `digits` decimals, as a double (Postgres has no round(double, int)). #}
{% macro round_double(expr, digits) -%}
    cast(round(cast({{ expr }} as decimal(38, 9)), {{ digits }}) as double precision)
{%- endmacro %}

{# Sums and means of doubles in exact decimal arithmetic: a parallel database adds doubles in
   any order, and the last bits of a double sum depend on that order. Money and scores summed
   this way give byte-identical marts on every rerun (and incremental = full refresh). #}
{% macro exact_sum(expr) -%}
    cast(sum(cast({{ expr }} as decimal(38, 9))) as double precision)
{%- endmacro %}

{% macro exact_avg(expr) -%}
    (cast(sum(cast({{ expr }} as decimal(38, 9))) as double precision) / nullif(count({{ expr }}), 0))
{%- endmacro %}
