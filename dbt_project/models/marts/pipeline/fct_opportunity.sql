{# One row per opportunity that exists at the run's as-of date (not deleted): its state at the
   end of that day (stage, amount, close date from int_opportunity_states), the stage score (the
   stage's default probability in the sales process map) and the verifier score
   (sum of the weights of verifiers whose latest status is verified / sum of all weights in the
   verifier catalogue). #}
with opportunities as (
    select *
    from {{ ref('int_opportunities_unioned') }}
    where not is_deleted and created_at < {{ as_of_end() }}
),

current_state as (
    select * from {{ ref('int_opportunity_states') }}
    where valid_to = {{ as_of_date() }}
),

latest_verifier_status as (
    select opportunity_id, verifier_key, buying_job, weight, status
    from (
        select
            e.*,
            row_number() over (
                partition by e.opportunity_id, e.verifier_key order by e.event_sequence desc
            ) as rn
        from {{ ref('fct_verifier_event') }} as e
    ) ranked
    where rn = 1
),

verifier_scores as (
    select
        opportunity_id,
        {{ exact_sum("case when status = 'verified' then weight else 0 end") }} as verified_weight,
        count(case when status = 'verified' then 1 end) as verifiers_verified
    from latest_verifier_status
    group by opportunity_id
),

revisits as (
    select opportunity_id, count(distinct buying_job) as buying_jobs_revisited
    from {{ ref('fct_verifier_event') }}
    where status = 'regressed'
    group by opportunity_id
),

total_weight as (
    select {{ exact_sum('weight') }} as weight from {{ ref('verifier_catalogue') }}
)

select
    cast(o.opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
    cast(o.source_system as {{ dbt.type_string() }}) as source_system,
    cast(o.opportunity_name as {{ dbt.type_string() }}) as opportunity_name,
    cast(o.account_id as {{ dbt.type_string() }}) as account_id,
    cast(a.account_name as {{ dbt.type_string() }}) as account_name,
    cast(coalesce(a.segment, 'Unknown') as {{ dbt.type_string() }}) as segment,
    cast(coalesce(a.region, 'Unknown') as {{ dbt.type_string() }}) as region,
    cast(o.owner_id as {{ dbt.type_string() }}) as owner_id,
    cast(u.user_name as {{ dbt.type_string() }}) as owner_name,
    cast(o.opportunity_type as {{ dbt.type_string() }}) as opportunity_type,
    cast(o.lead_source as {{ dbt.type_string() }}) as lead_source,
    cast(s.stage_name as {{ dbt.type_string() }}) as stage_name,
    cast(s.stage_order as bigint) as stage_order,
    cast(coalesce(s.forecast_category, o.crm_forecast_category) as {{ dbt.type_string() }}) as forecast_category,
    cast(s.is_closed as boolean) as is_closed,
    cast(s.is_won as boolean) as is_won,
    cast(o.created_at as timestamp) as created_at,
    cast(s.close_date as date) as close_date,
    cast(o.currency_code as {{ dbt.type_string() }}) as currency_code,
    cast(1.0 as double precision) as fx_rate_to_reporting,
    cast(s.amount as double precision) as amount,
    cast(coalesce(s.stage_probability, 0) as double precision) as stage_score,
    cast(coalesce(v.verified_weight, 0) / nullif(t.weight, 0) as double precision) as verifier_score,
    cast(coalesce(v.verified_weight, 0) as double precision) as verified_weight,
    cast(coalesce(v.verifiers_verified, 0) as bigint) as verifiers_verified,
    cast(coalesce(r.buying_jobs_revisited, 0) as bigint) as buying_jobs_revisited
from opportunities as o
inner join current_state as s on s.opportunity_id = o.opportunity_id
left join {{ ref('int_accounts_unioned') }} as a on a.account_id = o.account_id
left join {{ ref('int_users_unioned') }} as u on u.user_id = o.owner_id
left join verifier_scores as v on v.opportunity_id = o.opportunity_id
left join revisits as r on r.opportunity_id = o.opportunity_id
cross join total_weight as t
