{#- columns the source may lack become typed nulls: see macros/source_columns.sql -#}
{%- set relation = source('hubspot', 'contact') -%}
{%- set columns = [
    ('id', dbt.type_string(), ['id']),
    ('is_deleted', 'boolean', ['is_deleted', '_fivetran_deleted']),
    ('property_email', dbt.type_string(), ['property_email']),
    ('property_firstname', dbt.type_string(), ['property_firstname']),
    ('property_lastname', dbt.type_string(), ['property_lastname']),
    ('property_jobtitle', dbt.type_string(), ['property_jobtitle']),
    ('property_associatedcompanyid', dbt.type_string(), ['property_associatedcompanyid']),
    ('property_hubspot_owner_id', dbt.type_string(), ['property_hubspot_owner_id']),
    ('property_createdate', dbt.type_timestamp(), ['property_createdate']),
    ('property_lastmodifieddate', dbt.type_timestamp(), ['property_lastmodifieddate']),
    ('_extracted_at', dbt.type_timestamp(), ['_extracted_at', '_fivetran_synced']),
    ('_dlt_load_id', dbt.type_string(), ['_dlt_load_id'])
] -%}
{%- set present = present_columns(relation) %}
with fields as (
    {{ select_source_columns(relation, columns, present) }}
)
, latest as (
    {{ latest_version('fields', 'id', 'property_lastmodifieddate') }}
)

select
    id as contact_id,
    property_associatedcompanyid as account_id,
    trim(concat(coalesce(property_firstname, ''), ' ', coalesce(property_lastname, ''))) as contact_name,
    lower(trim(property_email)) as email,
    property_jobtitle as title,
    property_hubspot_owner_id as owner_id,
    property_createdate as created_at
from latest
where not coalesce(is_deleted, false)
