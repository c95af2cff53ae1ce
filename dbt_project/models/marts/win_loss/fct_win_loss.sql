{# One row per closed opportunity (at the as-of date): outcome, SPICED fields (which CRM field
   holds which element is var('spiced_fields'), applied in staging), stakeholders engaged,
   the buyer->rep response time, critical-event lead time and cycle length in days from the
   creation date, and the verifier score at close (fct_win_loss_verifier). #}
with closed as (
    select * from {{ ref('fct_opportunity') }}
    where is_closed
),

spiced as (
    select * from {{ ref('stg_salesforce__opportunities') }}
),

contact_roles as (
    select opportunity_id, count(distinct contact_id) as contact_roles
    from {{ ref('stg_salesforce__opportunity_contact_roles') }}
    group by opportunity_id
),

responses as (
    select
        opportunity_id,
        count(*) as buyer_responses,
        percentile_cont(0.5) within group (order by response_hours) as median_hours
    from {{ ref('int_email_responses') }}
    where direction = 'buyer_to_rep' and opportunity_id is not null and responded_at < {{ as_of_end() }}
    group by opportunity_id
),

verifiers_at_close as (
    select
        opportunity_id,
        count(case when is_verified_at_close then 1 end) as verifiers_verified,
        {{ exact_sum("case when is_verified_at_close then weight else 0 end") }} / nullif({{ exact_sum('weight') }}, 0) as verifier_score
    from {{ ref('fct_win_loss_verifier') }}
    group by opportunity_id
)

select
    cast(c.opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
    cast(c.source_system as {{ dbt.type_string() }}) as source_system,
    cast(c.account_id as {{ dbt.type_string() }}) as account_id,
    cast(c.owner_id as {{ dbt.type_string() }}) as owner_id,
    cast(c.owner_name as {{ dbt.type_string() }}) as owner_name,
    cast(c.segment as {{ dbt.type_string() }}) as segment,
    cast(c.region as {{ dbt.type_string() }}) as region,
    cast(c.lead_source as {{ dbt.type_string() }}) as lead_source,
    cast(c.opportunity_type as {{ dbt.type_string() }}) as opportunity_type,
    cast(case when c.is_won then 'won' else 'lost' end as {{ dbt.type_string() }}) as outcome,
    cast(c.is_won as boolean) as is_won,
    cast(c.created_at as date) as created_date,
    cast(c.close_date as date) as close_date,
    cast({{ quarter_label('c.close_date') }} as {{ dbt.type_string() }}) as close_quarter,
    {{ trunc_date('quarter', 'c.close_date') }} as close_quarter_start,
    cast(c.amount as double precision) as amount,
    {{ days_between('cast(c.created_at as date)', 'c.close_date') }} as cycle_days,
    cast(sp.pain_category as {{ dbt.type_string() }}) as pain_category,
    cast(sp.impact as {{ dbt.type_string() }}) as impact,
    cast(sp.impact_amount as double precision) as impact_amount,
    cast(sp.critical_event as {{ dbt.type_string() }}) as critical_event,
    cast(sp.critical_event_date as date) as critical_event_date,
    {{ days_between('cast(c.created_at as date)', 'sp.critical_event_date') }} as critical_event_lead_days,
    cast(sp.decision_criteria as {{ dbt.type_string() }}) as decision_criteria,
    cast(o.win_loss_reason as {{ dbt.type_string() }}) as win_loss_reason,
    cast(coalesce(cr.contact_roles, 0) as bigint) as contact_roles,
    cast(coalesce(st.stakeholders_engaged, 0) as bigint) as stakeholders_engaged,
    cast(coalesce(r.buyer_responses, 0) as bigint) as buyer_responses,
    {{ round_double('r.median_hours', 6) }} as buyer_response_median_hours,
    cast(coalesce(v.verifiers_verified, 0) as bigint) as verifiers_verified_at_close,
    cast(coalesce(v.verifier_score, 0) as double precision) as verifier_score_at_close
from closed as c
inner join {{ ref('int_opportunities_unioned') }} as o on o.opportunity_id = c.opportunity_id
left join spiced as sp on sp.opportunity_id = c.opportunity_id
left join contact_roles as cr on cr.opportunity_id = c.opportunity_id
left join {{ ref('int_opportunity_stakeholders') }} as st on st.opportunity_id = c.opportunity_id
left join responses as r on r.opportunity_id = c.opportunity_id
left join verifiers_at_close as v on v.opportunity_id = c.opportunity_id
