{#- columns the source may lack become typed nulls: see macros/source_columns.sql -#}
{%- set relation = source('hubspot', 'deal') -%}
{%- set columns = [
    ('deal_id', dbt.type_string(), ['deal_id']),
    ('is_deleted', 'boolean', ['is_deleted', '_fivetran_deleted']),
    ('deal_pipeline_id', dbt.type_string(), ['deal_pipeline_id']),
    ('deal_pipeline_stage_id', dbt.type_string(), ['deal_pipeline_stage_id']),
    ('owner_id', dbt.type_string(), ['owner_id']),
    ('property_dealname', dbt.type_string(), ['property_dealname']),
    ('property_amount', dbt.type_float(), ['property_amount']),
    ('property_deal_currency_code', dbt.type_string(), ['property_deal_currency_code']),
    ('property_closedate', dbt.type_timestamp(), ['property_closedate']),
    ('property_createdate', dbt.type_timestamp(), ['property_createdate']),
    ('property_hs_lastmodifieddate', dbt.type_timestamp(), ['property_hs_lastmodifieddate']),
    ('property_dealtype', dbt.type_string(), ['property_dealtype']),
    ('property_closed_lost_reason', dbt.type_string(), ['property_closed_lost_reason']),
    ('property_hs_analytics_source', dbt.type_string(), ['property_hs_analytics_source']),
    ('_extracted_at', dbt.type_timestamp(), ['_extracted_at', '_fivetran_synced']),
    ('_dlt_load_id', dbt.type_string(), ['_dlt_load_id'])
] -%}
{%- set present = present_columns(relation) %}
with fields as (
    {{ select_source_columns(relation, columns, present) }}
)
, latest as (
    {{ latest_version('fields', 'deal_id', 'property_hs_lastmodifieddate') }}
),

stages as (
    select * from {{ ref('stg_hubspot__deal_pipeline_stages') }}
),

primary_company as (
    select opportunity_id, min(account_id) as account_id
    from {{ ref('stg_hubspot__deal_companies') }}
    group by opportunity_id
)

select
    d.deal_id as opportunity_id,
    d.property_dealname as opportunity_name,
    c.account_id,
    d.owner_id,
    d.property_amount as amount,
    coalesce(d.property_deal_currency_code, '{{ var("reporting_currency", "USD") }}') as currency_code,
    cast(d.property_closedate as date) as close_date,
    d.property_createdate as created_at,
    d.deal_pipeline_id as pipeline_id,
    d.deal_pipeline_stage_id as stage_id,
    coalesce(s.stage_name, d.deal_pipeline_stage_id) as stage_name,
    s.probability as crm_probability,
    coalesce(s.is_closed, false) as is_closed,
    coalesce(s.is_won, false) as is_won,
    d.property_hs_analytics_source as lead_source,
    d.property_dealtype as opportunity_type,
    d.property_closed_lost_reason as win_loss_reason,
    coalesce(d.is_deleted, false) as is_deleted,
    d.property_hs_lastmodifieddate as modified_at
from latest as d
left join stages as s on s.stage_id = d.deal_pipeline_stage_id
left join primary_company as c on c.opportunity_id = d.deal_id
