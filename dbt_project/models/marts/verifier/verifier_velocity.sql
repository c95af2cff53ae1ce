{# Owner (rep) x period (var('velocity_period'), default month):
   - verifiers_verified: 'verified' events on the rep's opportunities in the period, and
     verified_per_30_days = verifiers_verified x 30 / days of the period (up to the as-of date);
   - the velocity form: opportunities x verifier completion rate x average deal size / average
     verifier cycle time, where opportunities = the rep's opportunities open on some day of the
     period, completion rate = their mean verifier score and avg_deal_size = their mean amount,
     both on each one's last snapshot in the period, and avg_cycle_days = the mean cycle_days of
     the rep's verifier cycles completed in the period. In amount per day. #}
{%- set period = var('velocity_period') %}
with opportunities as (
    select opportunity_id, owner_id from {{ ref('fct_opportunity') }} where owner_id is not null
),

{#- each opportunity's last open snapshot in each period (aggregate and join back: cheaper than
    ranking every day) -#}
last_open_days as (
    select
        opportunity_id,
        {{ trunc_date(period, 'snapshot_date') }} as period_start,
        max(snapshot_date) as snapshot_date
    from {{ ref('fct_opportunity_daily') }}
    where is_open
    group by opportunity_id, {{ trunc_date(period, 'snapshot_date') }}
),

worked_summary as (
    select
        o.owner_id,
        l.period_start,
        count(*) as opportunities,
        {{ exact_avg('d.verifier_score') }} as completion_rate,
        {{ exact_avg('d.amount') }} as avg_deal_size
    from last_open_days as l
    inner join {{ ref('fct_opportunity_daily') }} as d
        on d.opportunity_id = l.opportunity_id and d.snapshot_date = l.snapshot_date
    inner join opportunities as o on o.opportunity_id = l.opportunity_id
    group by o.owner_id, l.period_start
),

verified as (
    select
        o.owner_id,
        {{ trunc_date(period, 'e.event_date') }} as period_start,
        count(*) as verifiers_verified
    from {{ ref('fct_verifier_event') }} as e
    inner join opportunities as o on o.opportunity_id = e.opportunity_id
    where e.status = 'verified'
    group by 1, 2
),

cycles as (
    select
        owner_id,
        {{ trunc_date(period, 'verified_date') }} as period_start,
        {{ exact_avg('cycle_days') }} as avg_cycle_days,
        count(*) as cycles_completed
    from {{ ref('fct_verifier_cycle') }}
    where owner_id is not null
    group by 1, 2
),

keys as (
    select owner_id, period_start from worked_summary
    union
    select owner_id, period_start from verified
    union
    select owner_id, period_start from cycles
),

combined as (
    select
        k.owner_id,
        k.period_start,
        {{ days_between('k.period_start',
                        'least(' ~ add_days(trunc_date(period, dbt.dateadd(period, 1, 'k.period_start')), -1)
                        ~ ', ' ~ as_of_date() ~ ')') }} + 1 as period_days,
        coalesce(v.verifiers_verified, 0) as verifiers_verified,
        coalesce(w.opportunities, 0) as opportunities,
        w.completion_rate,
        w.avg_deal_size,
        c.avg_cycle_days,
        coalesce(c.cycles_completed, 0) as cycles_completed
    from keys as k
    left join worked_summary as w on w.owner_id = k.owner_id and w.period_start = k.period_start
    left join verified as v on v.owner_id = k.owner_id and v.period_start = k.period_start
    left join cycles as c on c.owner_id = k.owner_id and c.period_start = k.period_start
)

select
    cast(owner_id as {{ dbt.type_string() }}) as owner_id,
    cast(period_start as date) as period_start,
    cast(period_days as bigint) as period_days,
    cast(verifiers_verified as bigint) as verifiers_verified,
    cast(verifiers_verified * 30.0 / period_days as double precision) as verified_per_30_days,
    cast(opportunities as bigint) as opportunities,
    cast(completion_rate as double precision) as completion_rate,
    cast(avg_deal_size as double precision) as avg_deal_size,
    cast(cycles_completed as bigint) as cycles_completed,
    cast(avg_cycle_days as double precision) as avg_cycle_days,
    cast(opportunities * completion_rate * avg_deal_size / nullif(avg_cycle_days, 0) as double precision) as verifier_velocity
from combined
