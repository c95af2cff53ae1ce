{#- columns the source may lack become typed nulls: see macros/source_columns.sql -#}
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
{%- set present = present_columns(relation) %}
with fields as (
    {{ select_source_columns(relation, columns, present) }}
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
