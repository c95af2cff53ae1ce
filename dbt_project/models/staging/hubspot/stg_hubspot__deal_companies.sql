{#- columns the source may lack become typed nulls: see macros/source_columns.sql -#}
{%- set relation = source('hubspot', 'deal_company') -%}
{%- set columns = [
    ('deal_id', dbt.type_string(), ['deal_id']),
    ('company_id', dbt.type_string(), ['company_id']),
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
    deal_id as opportunity_id,
    company_id as account_id,
    type_id as association_type_id,
    category as association_category
from current_snapshot
where deal_id is not null and company_id is not null
