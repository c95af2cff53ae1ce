{{ config(
    materialized='versioned_incremental',
    incremental_strategy='delete+insert',
    unique_key='snapshot_date',
    post_hook=[
        "{{ versioned_retire(\"snapshot_date > \" ~ as_of_date() ~ \" or opportunity_id not in \"
         ~ \"(select opportunity_id from \" ~ ref('fct_opportunity') ~ \")\") }}"
    ]
) }}
{# Opportunity x day (the grain of fct_opportunity_daily): the verifier score
   (sum of weight x verified / sum of weight over the verifier catalogue), the buying jobs
   revisited so far (jobs with a verifier that regressed), and the verifier-weighted pipeline:
   amount x p(win | verifiers) on open days (0 on the closing day).

   p(win | verifiers) is calibrated point in time: for day d, opportunity type t and score bucket
   b (var('verifier_score_buckets') equal-width buckets of the score), over the open days spent
   in bucket b by opportunities of type t that closed before d:
       p = (won days + m x base rate) / (days + m)
   with m = var('verifier_calibration_prior_days') and base rate = won days / days of type t over
   all buckets. Without any closed opportunity of the type yet, p is the stage's default
   probability (p_win_source = 'stage_default'). Incremental like fct_opportunity_daily. #}
{%- set buckets = var('verifier_score_buckets') %}
with

{% if is_incremental() %}
window_start as (
    select {{ add_days("coalesce(least(max(snapshot_date), " ~ as_of_date() ~ "), cast('1900-01-01' as date))",
                       -var('daily_lookback_days')) }} as first_day
    from {{ this }}
),
{% endif %}

daily as (
    select
        d.*,
        o.opportunity_type,
        least(cast(floor(d.verifier_score * {{ buckets }}) as bigint), {{ buckets - 1 }}) as score_bucket
    from {{ ref('fct_opportunity_daily') }} as d
    inner join {{ ref('fct_opportunity') }} as o on o.opportunity_id = d.opportunity_id
),

closed_opportunities as (
    select opportunity_id, max(snapshot_date) as closed_date
    from daily
    where is_closed
    group by opportunity_id
),

{#- each closed opportunity's open days per bucket count from the day after it closed #}
contributions as (
    select
        {{ add_days('c.closed_date', 1) }} as effective_date,
        d.opportunity_type,
        d.score_bucket,
        count(*) as open_days,
        sum(case when o.is_won then 1 else 0 end) as won_days
    from daily as d
    inner join closed_opportunities as c on c.opportunity_id = d.opportunity_id
    inner join {{ ref('fct_opportunity') }} as o on o.opportunity_id = d.opportunity_id
    where d.is_open
    group by 1, 2, 3
),

spine as (
    {{ date_spine("(select min(snapshot_date) from daily)", as_of_date()) }}
),

types_buckets as (
    select distinct opportunity_type, score_bucket from daily
),

cumulative as (
    select
        s.date_day,
        tb.opportunity_type,
        tb.score_bucket,
        sum(coalesce(c.open_days, 0)) over w as open_days,
        sum(coalesce(c.won_days, 0)) over w as won_days
    from spine as s
    cross join types_buckets as tb
    left join contributions as c
        on c.effective_date = s.date_day
        and c.opportunity_type is not distinct from tb.opportunity_type
        and c.score_bucket = tb.score_bucket
    window w as (partition by tb.opportunity_type, tb.score_bucket order by s.date_day
                 rows between unbounded preceding and current row)
),

calibration as (
    select
        c.*,
        sum(c.open_days) over (partition by c.date_day, c.opportunity_type) as type_open_days,
        sum(c.won_days) over (partition by c.date_day, c.opportunity_type) as type_won_days
    from cumulative as c
),

scored as (
    select
        d.snapshot_date,
        d.opportunity_id,
        d.opportunity_type,
        d.is_open,
        d.amount,
        d.verifier_score,
        d.verified_weight,
        d.verifiers_verified,
        d.buying_jobs_revisited,
        d.score_bucket,
        d.stage_score,
        case when k.type_open_days > 0
             then coalesce(
                 (k.won_days + {{ var('verifier_calibration_prior_days') }}
                               * (cast(k.type_won_days as double precision) / k.type_open_days))
                 / nullif(k.open_days + {{ var('verifier_calibration_prior_days') }}, 0),
                 cast(k.type_won_days as double precision) / k.type_open_days)
        end as calibrated_p_win
    from daily as d
    left join calibration as k
        on k.date_day = d.snapshot_date
        and k.opportunity_type is not distinct from d.opportunity_type
        and k.score_bucket = d.score_bucket
    {% if is_incremental() %}
    cross join window_start as w
    where d.snapshot_date >= w.first_day
    {% endif %}
),

total_weight as (
    select {{ exact_sum('weight') }} as weight from {{ ref('verifier_catalogue') }}
)

select
    cast(s.snapshot_date as date) as snapshot_date,
    cast(s.opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
    cast(s.opportunity_type as {{ dbt.type_string() }}) as opportunity_type,
    cast(s.is_open as boolean) as is_open,
    cast(s.amount as double precision) as amount,
    cast(s.verified_weight as double precision) as verified_weight,
    cast(t.weight as double precision) as total_weight,
    cast(s.verifier_score as double precision) as verifier_score,
    cast(s.verifiers_verified as bigint) as verifiers_verified,
    cast(s.buying_jobs_revisited as bigint) as buying_jobs_revisited,
    cast(s.score_bucket as bigint) as score_bucket,
    cast(coalesce(s.calibrated_p_win, s.stage_score) as double precision) as p_win_verifiers,
    cast(case when s.calibrated_p_win is null then 'stage_default' else 'calibrated' end as {{ dbt.type_string() }}) as p_win_source,
    cast(case when s.is_open then coalesce(s.amount, 0) * coalesce(s.calibrated_p_win, s.stage_score) else 0 end
         as double precision) as verifier_weighted_pipeline
from scored as s
cross join total_weight as t
