{#- columns the source may lack become typed nulls: see macros/source_columns.sql -#}
{%- set relation = source('hubspot', 'deal_pipeline_stage') -%}
{%- set columns = [
    ('stage_id', dbt.type_string(), ['stage_id']),
    ('pipeline_id', dbt.type_string(), ['pipeline_id']),
    ('label', dbt.type_string(), ['label']),
    ('display_order', dbt.type_bigint(), ['display_order']),
    ('probability', dbt.type_float(), ['probability']),
    ('is_closed', 'boolean', ['is_closed']),
    ('closed_won', 'boolean', ['closed_won']),
    ('active', 'boolean', ['active']),
    ('is_deleted', 'boolean', ['is_deleted', '_fivetran_deleted']),
    ('created_at', dbt.type_timestamp(), ['created_at']),
    ('updated_at', dbt.type_timestamp(), ['updated_at']),
    ('_extracted_at', dbt.type_timestamp(), ['_extracted_at', '_fivetran_synced']),
    ('_dlt_load_id', dbt.type_string(), ['_dlt_load_id'])
] -%}
{%- set present = present_columns(relation) %}
with fields as (
    {{ select_source_columns(relation, columns, present) }}
)
, latest as (
    {{ latest_version('fields', 'stage_id', 'updated_at') }}
)

select
    stage_id,
    pipeline_id,
    label as stage_name,
    display_order as stage_order,
    probability,
    coalesce(is_closed, false) as is_closed,
    coalesce(closed_won, false) as is_won,
    coalesce(active, true) as is_active,
    created_at,
    updated_at
from latest
where not coalesce(is_deleted, false)
