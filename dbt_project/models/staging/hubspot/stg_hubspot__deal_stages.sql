{#- columns the source may lack become typed nulls: see macros/source_columns.sql -#}
{%- set relation = source('hubspot', 'deal_stage') -%}
{%- set columns = [
    ('deal_id', dbt.type_string(), ['deal_id']),
    ('value', dbt.type_string(), ['value']),
    ('date_entered', dbt.type_timestamp(), ['date_entered']),
    ('source', dbt.type_string(), ['source']),
    ('source_id', dbt.type_string(), ['source_id']),
    ('_extracted_at', dbt.type_timestamp(), ['_extracted_at', '_fivetran_synced']),
    ('_dlt_load_id', dbt.type_string(), ['_dlt_load_id'])
] -%}
{%- set present = present_columns(relation) %}
with fields as (
    {{ select_source_columns(relation, columns, present) }}
)
{#- one row per stage a deal entered; a changed deal's whole history lands again, so dedupe #}
, entries as (
    select distinct deal_id, value, date_entered, source, source_id from fields
    where deal_id is not null and date_entered is not null
)

select
    e.deal_id as opportunity_id,
    e.value as stage_id,
    coalesce(s.stage_name, e.value) as stage_name,
    e.date_entered as changed_at,
    e.source as change_source,
    e.source_id as change_source_id
from entries as e
left join {{ ref('stg_hubspot__deal_pipeline_stages') }} as s on s.stage_id = e.value
