{# One row per closed opportunity with its SPICED fields (mapped by the spiced_fields var),
   stakeholders engaged, critical-event lead time and cycle length. #}
with closed as (
    select * from {{ ref('fct_opportunity') }}
    where is_closed
),

spiced as (
    select * from {{ ref('stg_salesforce__opportunities') }}
),

stakeholders as (
    select opportunity_id, count(distinct contact_id) as stakeholders_engaged
    from {{ ref('stg_salesforce__opportunity_contact_roles') }}
    group by opportunity_id
)

select
    c.opportunity_id,
    c.account_id,
    c.owner_id,
    c.segment,
    c.region,
    c.lead_source,
    c.opportunity_type,
    case when c.is_won then 'won' else 'lost' end as outcome,
    c.is_won,
    c.close_date,
    c.amount,
    {{ dbt.datediff("cast(c.created_at as date)", "c.close_date", "day") }} as cycle_days,
    sp.pain_category,
    sp.impact,
    sp.impact_amount,
    sp.critical_event,
    sp.critical_event_date,
    {{ dbt.datediff("cast(c.created_at as date)", "sp.critical_event_date", "day") }} as critical_event_lead_days,
    sp.decision_criteria,
    sp.win_loss_reason,
    coalesce(st.stakeholders_engaged, 0) as stakeholders_engaged,
    c.verifier_score as verifier_score_at_close
from closed as c
inner join spiced as sp on sp.opportunity_id = c.opportunity_id
left join stakeholders as st on st.opportunity_id = c.opportunity_id
