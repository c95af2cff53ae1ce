{# The rows of `columns` that occur more than once in `model` (`where`: which rows count), one
   row per repeated key with its count `n`. On a DuckDB table, rows are first grouped by the
   key's 64-bit hash: only keys whose hash repeats (the duplicates, and the rare collision) are
   then grouped by their values. Grouping millions of string keys once by value took 15 to 25%
   more CPU (the activity state tables at S=10, in DuckDB alone). A view would be computed
   twice, so views, and other databases, group by value alone. #}
{% macro revwh_duplicate_keys(model, columns, where=none) -%}
{%- set keys = columns | join(', ') -%}
{%- set relation = adapter.get_relation(model.database, model.schema, model.identifier) if execute else none -%}
{%- if target.type == 'duckdb' and relation is not none and relation.is_table %}
with repeated_hashes as (
    select hash({{ keys }}) as key_hash
    from {{ model }}
    {% if where %}where {{ where }}{% endif %}
    group by 1
    having count(*) > 1
)
select {{ keys }}, count(*) as n
from {{ model }}
where hash({{ keys }}) in (select key_hash from repeated_hashes)
{%- if where %} and {{ where }}{% endif %}
group by {{ keys }}
having count(*) > 1
{%- else %}
select {{ keys }}, count(*) as n
from {{ model }}
{% if where %}where {{ where }}{% endif %}
group by {{ keys }}
having count(*) > 1
{%- endif %}
{%- endmacro %}

{# dbt's built-in `unique` test on DuckDB (dispatch finds the project's macro first); same
   columns as dbt's own: unique_field, n_records #}
{% macro duckdb__test_unique(model, column_name) %}
select {{ column_name }} as unique_field, n as n_records
from ({{ revwh_duplicate_keys(model, [column_name], column_name ~ ' is not null') }}) as repeated
{% endmacro %}
