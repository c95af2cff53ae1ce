{# Every opportunity in the canonical columns, whichever CRM it comes from. HubSpot deals join
   when var('hubspot_enabled') is true (its staging exists; off by default so that a
   Salesforce-only warehouse does not carry empty HubSpot relations into the marts). #}
select
    'salesforce' as source_system,
    opportunity_id,
    opportunity_name,
    account_id,
    owner_id,
    amount,
    currency_code,
    close_date,
    created_at,
    stage_name,
    crm_probability,
    forecast_category as crm_forecast_category,
    is_closed as crm_is_closed,
    is_won as crm_is_won,
    lead_source,
    opportunity_type,
    win_loss_reason,
    is_deleted,
    modified_at
from {{ ref('stg_salesforce__opportunities') }}
{%- if var('hubspot_enabled', false) %}

union all

select
    'hubspot' as source_system,
    opportunity_id,
    opportunity_name,
    account_id,
    owner_id,
    cast(amount as double precision) as amount,
    currency_code,
    close_date,
    cast(created_at as timestamp) as created_at,
    stage_name,
    cast(crm_probability as double precision) as crm_probability,
    cast(null as {{ dbt.type_string() }}) as crm_forecast_category,
    is_closed as crm_is_closed,
    is_won as crm_is_won,
    lead_source,
    opportunity_type,
    win_loss_reason,
    is_deleted,
    cast(modified_at as timestamp) as modified_at
from {{ ref('stg_hubspot__deals') }}
{%- endif %}
