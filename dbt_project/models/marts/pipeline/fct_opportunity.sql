{# One row per opportunity: current state as of the run's date, with the stage score (the
   stage's default probability in the sales process map) and the verifier score
   (sum of weights of verifiers verified / sum of all weights in the catalogue). #}
with opportunities as (
    select * from {{ ref('stg_salesforce__opportunities') }}
    where not is_deleted
      and created_at < cast('{{ var("as_of_date") }}' as date) + 1
),

stages as (
    select * from {{ ref('sales_process_map') }}
),

latest_verifier_status as (
    select opportunity_id, verifier_key, weight, status
    from (
        select
            *,
            row_number() over (
                partition by opportunity_id, verifier_key
                order by event_at desc, verifier_event_id
            ) as rn
        from {{ ref('fct_verifier_event') }}
    ) ranked
    where rn = 1
),

verifier_scores as (
    select
        opportunity_id,
        sum(case when status = 'verified' then weight else 0 end) as verified_weight,
        count(case when status = 'verified' then 1 end) as verifiers_verified
    from latest_verifier_status
    group by opportunity_id
),

total_weight as (
    select sum(weight) as weight from {{ ref('verifier_catalogue') }}
)

select
    o.opportunity_id,
    o.opportunity_name,
    o.account_id,
    a.account_name,
    coalesce(a.segment, 'Unknown') as segment,
    coalesce(a.region, 'Unknown') as region,
    o.owner_id,
    u.user_name as owner_name,
    o.opportunity_type,
    o.lead_source,
    o.stage_name,
    s.stage_order,
    o.forecast_category,
    o.is_closed,
    o.is_won,
    o.created_at,
    o.close_date,
    o.currency_code,
    1.0 as fx_rate_to_reporting,
    o.amount as amount,
    coalesce(s.default_probability, 0) as stage_score,
    coalesce(v.verified_weight, 0) / t.weight as verifier_score,
    coalesce(v.verifiers_verified, 0) as verifiers_verified
from opportunities as o
left join stages as s on s.stage_name = o.stage_name
left join {{ ref('stg_salesforce__accounts') }} as a on a.account_id = o.account_id
left join {{ ref('stg_salesforce__users') }} as u on u.user_id = o.owner_id
left join verifier_scores as v on v.opportunity_id = o.opportunity_id
cross join total_weight as t
