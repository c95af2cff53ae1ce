{# Accounts (Salesforce) and companies (HubSpot, when enabled) in canonical columns. #}
select
    'salesforce' as source_system,
    account_id,
    account_name,
    segment,
    region
from {{ ref('stg_salesforce__accounts') }}
{%- if var('hubspot_enabled', false) %}

union all

select
    'hubspot' as source_system,
    account_id,
    account_name,
    cast(null as {{ dbt.type_string() }}) as segment,
    cast(null as {{ dbt.type_string() }}) as region
from {{ ref('stg_hubspot__companies') }}
{%- endif %}
