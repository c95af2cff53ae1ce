{#- columns the source may lack become typed nulls: see macros/source_columns.sql -#}
{%- set relation = source('hubspot', 'engagement_deal') -%}
{%- set columns = [
    ('engagement_id', dbt.type_string(), ['engagement_id']),
    ('deal_id', dbt.type_string(), ['deal_id']),
    ('engagement_type', dbt.type_string(), ['engagement_type']),
    ('type_id', dbt.type_bigint(), ['type_id']),
    ('category', dbt.type_string(), ['category']),
    ('_extracted_at', dbt.type_timestamp(), ['_extracted_at', '_fivetran_synced']),
    ('_dlt_load_id', dbt.type_string(), ['_dlt_load_id'])
] -%}
{%- set present = present_columns(relation) %}
with fields as (
    {{ select_source_columns(relation, columns, present) }}
)
{#- associations land as full snapshots, re-pulled every run: the latest one is the truth #}
{%- if '_extracted_at' in present %}
, current_snapshot as (
    select * from fields where _extracted_at = (select max(_extracted_at) from fields)
)
{%- else %}
, current_snapshot as (select * from fields)
{%- endif %}

select distinct
    engagement_id,
    deal_id as opportunity_id,
    engagement_type,
    type_id as association_type_id
from current_snapshot
where engagement_id is not null and deal_id is not null
