{# Every recorded state of an opportunity (stage, amount, close date) with the instant it took
   effect: Salesforce's OpportunityHistory rows and, when HubSpot is enabled, HubSpot's deal
   stage history (which records the stage only: amount and close date are the deal's current
   ones). `change_id` orders rows of the same instant. #}
select
    'salesforce' as source_system,
    opportunity_history_id as change_id,
    opportunity_id,
    stage_name,
    amount,
    close_date,
    changed_at
from {{ ref('stg_salesforce__opportunity_history') }}
where changed_at is not null
{%- if var('hubspot_enabled', false) %}

union all

select
    'hubspot' as source_system,
    {{ dbt.concat(["h.opportunity_id", "'|'", "h.stage_id", "'|'", "cast(h.changed_at as " ~ dbt.type_string() ~ ")"]) }} as change_id,
    h.opportunity_id,
    h.stage_name,
    cast(d.amount as double precision) as amount,
    d.close_date,
    cast(h.changed_at as timestamp) as changed_at
from {{ ref('stg_hubspot__deal_stages') }} as h
inner join {{ ref('stg_hubspot__deals') }} as d on d.opportunity_id = h.opportunity_id
{%- endif %}
