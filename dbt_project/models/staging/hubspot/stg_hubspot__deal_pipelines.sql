{#- Fivetran's way: read only the columns the source has, typed; a missing column is a typed
    null and a missing table is an empty result, so this model runs on our raw layer and on a
    schema that Fivetran or Airbyte loaded. -#}
{%- set relation = source('hubspot', 'deal_pipeline') -%}
{%- set columns = [
    ('pipeline_id', dbt.type_string(), ['pipeline_id']),
    ('label', dbt.type_string(), ['label']),
    ('display_order', dbt.type_bigint(), ['display_order']),
    ('active', 'boolean', ['active']),
    ('is_deleted', 'boolean', ['is_deleted', '_fivetran_deleted']),
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
    {{ latest_version('fields', 'pipeline_id', 'updated_at') }}
)

select
    pipeline_id,
    label as pipeline_name,
    display_order,
    coalesce(active, true) as is_active,
    created_at,
    updated_at
from latest
where not coalesce(is_deleted, false)
