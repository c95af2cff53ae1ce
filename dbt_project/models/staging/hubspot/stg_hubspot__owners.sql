{#- columns the source may lack become typed nulls: see macros/source_columns.sql -#}
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
{%- set present = present_columns(relation) %}
with fields as (
    {{ select_source_columns(relation, columns, present) }}
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
