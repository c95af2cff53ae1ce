{# Every contact address of the CRMs (HubSpot's when var('hubspot_enabled')), deleted and merged
   records included, lower case, with the surviving record and the contact's account. #}
{{ config(materialized='table') }}
select source_system, contact_id, surviving_contact_id, account_id, email, is_deleted
from {{ ref('stg_activity__contact_addresses') }}
{%- if var('hubspot_enabled', false) %}

union all

select
    'hubspot' as source_system,
    contact_id,
    contact_id as surviving_contact_id,
    account_id,
    email,
    false as is_deleted
from {{ ref('stg_hubspot__contacts') }}
where email is not null and email <> ''
{%- endif %}
