{#- columns the source may lack become typed nulls: see macros/source_columns.sql -#}
{%- set relation = source('hubspot', 'engagement_meeting') -%}
{%- set columns = [
    ('engagement_id', dbt.type_string(), ['engagement_id']),
    ('title', dbt.type_string(), ['title']),
    ('start_time', dbt.type_timestamp(), ['start_time']),
    ('end_time', dbt.type_timestamp(), ['end_time']),
    ('meeting_outcome', dbt.type_string(), ['meeting_outcome']),
    ('location', dbt.type_string(), ['location']),
    ('last_updated', dbt.type_timestamp(), ['last_updated']),
    ('_extracted_at', dbt.type_timestamp(), ['_extracted_at', '_fivetran_synced']),
    ('_dlt_load_id', dbt.type_string(), ['_dlt_load_id'])
] -%}
{%- set present = present_columns(relation) %}
with fields as (
    {{ select_source_columns(relation, columns, present) }}
)
, latest as (
    {{ latest_version('fields', 'engagement_id', 'last_updated') }}
)

select
    engagement_id,
    title as meeting_title,
    start_time as starts_at,
    end_time as ends_at,
    meeting_outcome,
    location
from latest
