{#- Fivetran's way: read only the columns the source has, typed; a missing column is a typed
    null and a missing table is an empty result, so this model runs on our raw layer and on a
    schema that Fivetran or Airbyte loaded. -#}
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
{%- set present = [] -%}
{%- if execute -%}
    {%- for c in adapter.get_columns_in_relation(relation) -%}
        {%- do present.append(c.name | lower) -%}
    {%- endfor -%}
{%- endif %}
with fields as (
    select
    {%- for col in columns %}
        {%- set found = col[2] | select('in', present) | list %}
        {% if found %}coalesce({% for f in found %}cast({{ adapter.quote(f) }} as {{ col[1] }}){{ ", " if not loop.last }}{% endfor %}, null){% else %}cast(null as {{ col[1] }}){% endif %} as {{ col[0] }}{{ "," if not loop.last }}
    {%- endfor %}
    {% if present or not execute %}from {{ relation }}{% else %}from (select 1 as missing_table) as missing where 1 = 0{% endif %}
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
