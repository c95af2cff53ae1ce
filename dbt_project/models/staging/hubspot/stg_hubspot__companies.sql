{#- columns the source may lack become typed nulls: see macros/source_columns.sql -#}
{%- set relation = source('hubspot', 'company') -%}
{%- set columns = [
    ('id', dbt.type_string(), ['id']),
    ('is_deleted', 'boolean', ['is_deleted', '_fivetran_deleted']),
    ('property_name', dbt.type_string(), ['property_name']),
    ('property_domain', dbt.type_string(), ['property_domain']),
    ('property_website', dbt.type_string(), ['property_website']),
    ('property_industry', dbt.type_string(), ['property_industry']),
    ('property_country', dbt.type_string(), ['property_country']),
    ('property_numberofemployees', dbt.type_bigint(), ['property_numberofemployees']),
    ('property_annualrevenue', dbt.type_float(), ['property_annualrevenue']),
    ('property_hubspot_owner_id', dbt.type_string(), ['property_hubspot_owner_id']),
    ('property_createdate', dbt.type_timestamp(), ['property_createdate']),
    ('property_hs_lastmodifieddate', dbt.type_timestamp(), ['property_hs_lastmodifieddate']),
    ('_extracted_at', dbt.type_timestamp(), ['_extracted_at', '_fivetran_synced']),
    ('_dlt_load_id', dbt.type_string(), ['_dlt_load_id'])
] -%}
{%- set present = present_columns(relation) %}
with fields as (
    {{ select_source_columns(relation, columns, present) }}
)
, latest as (
    {{ latest_version('fields', 'id', 'property_hs_lastmodifieddate') }}
)

select
    id as account_id,
    property_name as account_name,
    coalesce(property_domain, property_website) as website,
    property_industry as industry,
    property_country as billing_country,
    property_numberofemployees as number_of_employees,
    property_annualrevenue as annual_revenue,
    property_hubspot_owner_id as owner_id,
    property_createdate as created_at
from latest
where not coalesce(is_deleted, false)
