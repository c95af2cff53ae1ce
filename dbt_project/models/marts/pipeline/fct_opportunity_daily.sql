{{ config(
    materialized='versioned_incremental',
    incremental_strategy='delete+insert',
    unique_key='snapshot_date',
    post_hook=[
        "{{ versioned_retire(\"snapshot_date > \" ~ as_of_date() ~ \" or opportunity_id not in \"
         ~ \"(select opportunity_id from \" ~ ref('fct_opportunity') ~ \")\") }}"
    ]
) }}
{# Opportunity x day: the opportunity's state at the end of each day from its creation day while
   it is open, plus the day it closed: stage, amount, close date, forecast category and the
   verifier score as of that day. The base of every trend and backtest.

   Incremental: a run recomputes whole days from (the last day already built, or the as-of date
   if earlier) minus var('daily_lookback_days') to the as-of date, and replaces those days
   (delete+insert on snapshot_date): changes that arrive late but are dated within the lookback
   are picked up. The post-hook drops days after the as-of date (a rerun for an earlier date) and
   opportunities that no longer exist (deleted since). Changes dated before the lookback window
   need a full refresh (revwh build --full-refresh). Under write-audit-publish every version
   reads its own rows of one shared table (macros/versioned_incremental.sql). #}
with

{% if is_incremental() %}
window_start as (
    select {{ add_days("coalesce(least(max(snapshot_date), " ~ as_of_date() ~ "), cast('1900-01-01' as date))",
                       -var('daily_lookback_days')) }} as first_day
    from {{ this }}
),
{% endif %}

states as (
    select
        s.*,
        case when s.is_closed then s.valid_from else s.valid_to end as last_daily_day
    from {{ ref('int_opportunity_states') }} as s
    inner join {{ ref('fct_opportunity') }} as o on o.opportunity_id = s.opportunity_id
    {#- a closed state is one day (the day it closed); a closed state after a closed one adds none #}
    where not (s.is_closed and coalesce(s.previous_is_closed, false))
),

stage_days as (
    select
        s.opportunity_id,
        {{ expand_days(
            "greatest(s.valid_from, w.first_day)" if is_incremental() else "s.valid_from",
            "s.last_daily_day") }} as snapshot_date,
        s.stage_name,
        s.stage_order,
        s.forecast_category,
        s.is_closed,
        s.is_won,
        s.amount,
        s.close_date,
        s.stage_probability
    from states as s
    {% if is_incremental() %}
    cross join window_start as w
    where s.last_daily_day >= w.first_day
    {% endif %}
),

{#- verifier values change by deltas: +weight when a verifier becomes verified, -weight when it
    stops being verified; +1 buying job revisited at the first regression in that job #}
verifier_deltas as (
    select
        opportunity_id,
        event_date,
        sum(cast(d_weight as decimal(38, 9))) as d_weight,
        sum(d_verified) as d_verified,
        sum(d_revisited) as d_revisited
    from (
        select
            opportunity_id,
            event_date,
            weight * ((case when status = 'verified' then 1 else 0 end)
                      - (case when previous_status = 'verified' then 1 else 0 end)) as d_weight,
            (case when status = 'verified' then 1 else 0 end)
                - (case when previous_status = 'verified' then 1 else 0 end) as d_verified,
            0 as d_revisited
        from {{ ref('fct_verifier_event') }}

        union all

        select opportunity_id, min(event_date) as event_date, 0 as d_weight, 0 as d_verified,
               1 as d_revisited
        from {{ ref('fct_verifier_event') }}
        where status = 'regressed'
        group by opportunity_id, buying_job
    ) deltas
    group by opportunity_id, event_date
),

verifier_states as (
    select
        opportunity_id,
        event_date as valid_from,
        coalesce({{ add_days("lead(event_date) over (partition by opportunity_id order by event_date)", -1) }},
                 {{ as_of_date() }}) as valid_to,
        sum(d_weight) over (partition by opportunity_id order by event_date
                            rows between unbounded preceding and current row) as verified_weight,
        sum(d_verified) over (partition by opportunity_id order by event_date
                              rows between unbounded preceding and current row) as verifiers_verified,
        sum(d_revisited) over (partition by opportunity_id order by event_date
                               rows between unbounded preceding and current row) as buying_jobs_revisited
    from verifier_deltas
),

total_weight as (
    select {{ exact_sum('weight') }} as weight from {{ ref('verifier_catalogue') }}
)

select
    cast(d.snapshot_date as date) as snapshot_date,
    cast(d.opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
    cast(d.stage_name as {{ dbt.type_string() }}) as stage_name,
    cast(d.stage_order as bigint) as stage_order,
    cast(d.forecast_category as {{ dbt.type_string() }}) as forecast_category,
    cast(not d.is_closed as boolean) as is_open,
    cast(d.is_closed as boolean) as is_closed,
    cast(d.is_won as boolean) as is_won,
    cast(d.amount as double precision) as amount,
    cast(d.close_date as date) as close_date,
    cast(coalesce(d.stage_probability, 0) as double precision) as stage_score,
    cast(coalesce(v.verified_weight, 0) as double precision) as verified_weight,
    cast(coalesce(v.verified_weight, 0) as double precision) / nullif(t.weight, 0) as verifier_score,
    cast(coalesce(v.verifiers_verified, 0) as bigint) as verifiers_verified,
    cast(coalesce(v.buying_jobs_revisited, 0) as bigint) as buying_jobs_revisited
from stage_days as d
left join verifier_states as v
    on v.opportunity_id = d.opportunity_id
    and d.snapshot_date between v.valid_from and v.valid_to
cross join total_weight as t
