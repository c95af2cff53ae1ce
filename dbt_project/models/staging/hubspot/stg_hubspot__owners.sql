{#- Fivetran's way: read only the columns the source has, typed; a missing column is a typed
    null and a missing table is an empty result, so this model runs on our raw layer and on a
    schema that Fivetran or Airbyte loaded. -#}
{%- set relation = source('hubspot', 'owner') -%}
{%- set columns = [
    ('owner_id', dbt.type_string(), ['owner_id']),
    ('email', dbt.type_string(), ['email']),
    ('first_name', dbt.type_string(), ['first_name']),
    ('last_name', dbt.type_string(), ['last_name']),
    ('type', dbt.type_string(), ['type']),
    ('active_user_id', dbt.type_string(), ['active_user_id']),
    ('is_active', 'boolean', ['is_active']),
    ('created_at', dbt.type_timestamp(), ['created_at']),
    ('updated_at', dbt.type_timestamp(), ['updated_at']),
    ('_extracted_at', dbt.type_timestamp(), ['_extracted_at', '_fivetran_synced']),
    ('_dlt_load_id', dbt.type_string(), ['_dlt_load_id'])
] -%}
{%- set present = [] -%}
{%- if execute -%}
    {%- for c in adapter.get_columns_in_relation(relation) -%}
        {%- do present.append(c.name | lower) -%}
    {%- endfor -%}
{%- endif %}
with fields as (
    select
    {%- for col in columns %}
        {%- set found = col[2] | select('in', present) | list %}
        {% if found %}coalesce({% for f in found %}cast({{ adapter.quote(f) }} as {{ col[1] }}){{ ", " if not loop.last }}{% endfor %}, null){% else %}cast(null as {{ col[1] }}){% endif %} as {{ col[0] }}{{ "," if not loop.last }}
    {%- endfor %}
    {% if present or not execute %}from {{ relation }}{% else %}from (select 1 as missing_table) as missing where 1 = 0{% endif %}
)
, latest as (
    {{ latest_version('fields', 'owner_id', 'updated_at') }}
)

select
    owner_id as user_id,
    trim(concat(coalesce(first_name, ''), ' ', coalesce(last_name, ''))) as user_name,
    lower(email) as email,
    first_name,
    last_name,
    type as owner_type,
    active_user_id,
    coalesce(is_active, true) as is_active,
    created_at
from latest
