{# The buying group of each opportunity: Salesforce contact roles and, when var('hubspot_enabled'),
   HubSpot deal-contact associations. One row per (opportunity, contact). #}
{{ config(materialized='table') }}
select distinct opportunity_id, contact_id
from {{ ref('stg_salesforce__opportunity_contact_roles') }}
where opportunity_id is not null and contact_id is not null
{%- if var('hubspot_enabled', false) %}

union

select distinct opportunity_id, contact_id
from {{ ref('stg_hubspot__deal_contacts') }}
{%- endif %}
