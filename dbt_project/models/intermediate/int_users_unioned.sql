{# Users (Salesforce) and owners (HubSpot, when enabled): the reps that own opportunities, with
   their quarterly quota where the CRM keeps one. #}
select
    'salesforce' as source_system,
    user_id,
    user_name,
    email,
    segment,
    region,
    quarterly_quota
from {{ ref('stg_salesforce__users') }}
{%- if var('hubspot_enabled', false) %}

union all

select
    'hubspot' as source_system,
    user_id,
    user_name,
    email,
    cast(null as {{ dbt.type_string() }}) as segment,
    cast(null as {{ dbt.type_string() }}) as region,
    cast(null as double precision) as quarterly_quota
from {{ ref('stg_hubspot__owners') }}
{%- endif %}
