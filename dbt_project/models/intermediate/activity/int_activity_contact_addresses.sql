{# Every contact address of the CRMs (HubSpot's when var('hubspot_enabled')), deleted and merged
   records included, lower case, with the surviving record and the contact's account.
   `activity_address` is the address as the activity readers store it: with
   var('hash_external_addresses') the keyed hash revwh writes for each contact address
   (revwh.contact_hashes), so that hashed activity still matches contacts exactly. #}
{{ config(materialized='table') }}
with contacts as (
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
)

select
    c.source_system,
    c.contact_id,
    c.surviving_contact_id,
    c.account_id,
    c.email,
    {%- if var('hash_external_addresses', false) %}
    coalesce(h.activity_address, c.email) as activity_address,
    {%- else %}
    c.email as activity_address,
    {%- endif %}
    c.is_deleted
from contacts as c
{%- if var('hash_external_addresses', false) %}
left join {{ source('activity', 'contact_address_hash') }} as h on h.email = c.email
{%- endif %}
