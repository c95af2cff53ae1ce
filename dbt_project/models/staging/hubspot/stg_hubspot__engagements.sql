{#- Fivetran's way: read only the columns the source has, typed; a missing column is a typed
    null and a missing table is an empty result, so this model runs on our raw layer and on a
    schema that Fivetran or Airbyte loaded. -#}
{%- set relation = source('hubspot', 'engagement') -%}
{%- set columns = [
    ('id', dbt.type_string(), ['id']),
    ('type', dbt.type_string(), ['type']),
    ('owner_id', dbt.type_string(), ['owner_id']),
    ('created_at', dbt.type_timestamp(), ['created_at']),
    ('last_updated', dbt.type_timestamp(), ['last_updated']),
    ('timestamp', dbt.type_timestamp(), ['timestamp']),
    ('active', 'boolean', ['active']),
    ('is_deleted', 'boolean', ['is_deleted', '_fivetran_deleted']),
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
    {{ latest_version('fields', 'id', 'last_updated') }}
)

select
    id as engagement_id,
    type as engagement_type,
    owner_id,
    {{ adapter.quote('timestamp') }} as occurred_at,
    created_at,
    last_updated as modified_at
from latest
where not coalesce(is_deleted, false)
