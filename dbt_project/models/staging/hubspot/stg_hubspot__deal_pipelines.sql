{#- columns the source may lack become typed nulls: see macros/source_columns.sql -#}
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
{%- set present = present_columns(relation) %}
with fields as (
    {{ select_source_columns(relation, columns, present) }}
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
