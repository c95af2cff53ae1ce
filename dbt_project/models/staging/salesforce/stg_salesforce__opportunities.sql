{% set spiced = var('spiced_fields') %}
with latest as (
    {{ latest_version(source('salesforce', 'opportunity'), 'id', 'system_modstamp') }}
)

select
    id as opportunity_id,
    name as opportunity_name,
    account_id,
    owner_id,
    cast(amount as double precision) as amount,
    coalesce(currency_iso_code, '{{ var("reporting_currency") }}') as currency_code,
    cast(close_date as date) as close_date,
    cast(created_date as timestamp) as created_at,
    stage_name,
    cast(probability as double precision) / 100.0 as crm_probability,
    forecast_category,
    coalesce(is_closed, false) as is_closed,
    coalesce(is_won, false) as is_won,
    lead_source,
    type as opportunity_type,
    {{ spiced['pain_category'] }} as pain_category,
    {{ spiced['impact'] }} as impact,
    cast({{ spiced['impact_amount'] }} as double precision) as impact_amount,
    {{ spiced['critical_event'] }} as critical_event,
    cast({{ spiced['critical_event_date'] }} as date) as critical_event_date,
    {{ spiced['decision_criteria'] }} as decision_criteria,
    {{ spiced['win_loss_reason'] }} as win_loss_reason,
    coalesce(is_deleted, false) as is_deleted,
    cast(system_modstamp as timestamp) as modified_at
from latest
