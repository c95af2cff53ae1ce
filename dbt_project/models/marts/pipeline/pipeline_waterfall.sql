{# Period (close-date period, var('waterfall_period'), default quarter) x week (ISO weeks,
   Monday start): how the open pipeline whose close date falls in the period moved during the
   week, from the daily snapshots:

       start + created + pulled_in - pushed_out - won - lost + amount_change = end

   - start: open amount in the period at the end of the day before the week; end: at the end of
     the week's last day (the as-of date for the running week);
   - created: opportunities created during the week straight into the period (amount then);
   - pulled_in: open opportunities that moved into the period (close date changed into it, or
     reopened), at their amount after the move;
   - pushed_out: open opportunities that left the period while open (close date moved out of
     it, later or earlier, or cleared), at their amount before the move;
   - won / lost: opportunities of the period that closed won / lost, at their closing amount;
   - amount_change: amount edits of opportunities that stayed in the period or closed from it.
   Each day compares an opportunity's snapshot with the previous day's. slip_rate =
   pushed_out / start.

   Incremental: a run recomputes the weeks from the first one with a day fct_opportunity_daily
   wrote or replaced (or with the as-of date of the version it continues) from the days since
   the day before, and keeps the earlier weeks; the post-hook retires the earlier rows of those
   weeks that were not recomputed. #}
{{ config(
    materialized='versioned_incremental',
    incremental_strategy='delete+insert',
    unique_key='week_start',
    post_hook=["{{ versioned_retire('week_start >= ' ~ waterfall_first_week()
                                    ~ \" and _revwh_from <> '\" ~ this.schema ~ \"'\") }}"]
) }}
{%- set first_week = waterfall_first_week() if is_incremental() %}  {#- one query, not two #}
with daily as (
    select
        d.opportunity_id,
        d.snapshot_date,
        {#- in the pipeline of a period: open with a close date #}
        (d.is_open and d.close_date is not null) as in_pipeline,
        d.is_closed,
        d.is_won,
        coalesce(d.amount, 0) as amount,
        {{ trunc_date(var('waterfall_period'), 'd.close_date') }} as period_start,
        cast(o.created_at as date) as created_date
    from {{ ref('fct_opportunity_daily') }} as d
    inner join {{ ref('fct_opportunity') }} as o on o.opportunity_id = d.opportunity_id
    {%- if is_incremental() %}
    where d.snapshot_date >= {{ add_days(first_week, -1) }}
    {%- endif %}
),

paired as (
    select
        d.*,
        lag(d.snapshot_date) over w as previous_date,
        lag(d.in_pipeline) over w as previous_in_pipeline,
        lag(d.amount) over w as previous_amount,
        lag(d.period_start) over w as previous_period_start
    from daily as d
    window w as (partition by d.opportunity_id order by d.snapshot_date)
),

days as (
    select
        p.*,
        coalesce(p.previous_date = {{ add_days('p.snapshot_date', -1) }} and p.previous_in_pipeline,
                 false) as was_in_pipeline,
        (p.previous_date is null and p.snapshot_date = p.created_date) as is_creation_day
    from paired as p
),

classified as (
    select
        d.*,
        (d.was_in_pipeline and d.in_pipeline and d.period_start = d.previous_period_start) as stayed
    from days as d
),

flows as (
    {#- into the period of today's snapshot #}
    select
        period_start,
        snapshot_date,
        case when is_creation_day then amount else 0 end as created_amount,
        case when is_creation_day then 1 else 0 end as created_count,
        case when not stayed and not is_creation_day then amount else 0 end as pulled_in_amount,
        case when not stayed and not is_creation_day then 1 else 0 end as pulled_in_count,
        0 as pushed_out_amount,
        0 as pushed_out_count,
        0 as won_amount,
        0 as won_count,
        0 as lost_amount,
        0 as lost_count,
        case when stayed then amount - previous_amount else 0 end as amount_change
    from classified
    where in_pipeline

    union all

    {#- out of the period of yesterday's snapshot #}
    select
        previous_period_start as period_start,
        snapshot_date,
        0, 0, 0, 0,
        case when not is_closed then previous_amount else 0 end,
        case when not is_closed then 1 else 0 end,
        case when is_closed and is_won then amount else 0 end,
        case when is_closed and is_won then 1 else 0 end,
        case when is_closed and not is_won then amount else 0 end,
        case when is_closed and not is_won then 1 else 0 end,
        case when is_closed then amount - previous_amount else 0 end
    from classified
    where was_in_pipeline and not stayed
),

weekly_flows as (
    select
        period_start,
        {{ trunc_date('week', 'snapshot_date') }} as week_start,
        {{ exact_sum('created_amount') }} as created_amount,
        sum(created_count) as created_count,
        {{ exact_sum('pulled_in_amount') }} as pulled_in_amount,
        sum(pulled_in_count) as pulled_in_count,
        {{ exact_sum('pushed_out_amount') }} as pushed_out_amount,
        sum(pushed_out_count) as pushed_out_count,
        {{ exact_sum('won_amount') }} as won_amount,
        sum(won_count) as won_count,
        {{ exact_sum('lost_amount') }} as lost_amount,
        sum(lost_count) as lost_count,
        {{ exact_sum('amount_change') }} as amount_change
    from flows
    group by 1, 2
),

{#- open pipeline per period at the end of each week's last day (and of the as-of date) #}
levels as (
    select
        period_start,
        snapshot_date,
        {{ exact_sum('amount') }} as open_amount,
        count(*) as open_count
    from daily
    where in_pipeline
      and (snapshot_date = {{ add_days(trunc_date('week', 'snapshot_date'), 6) }}
           or snapshot_date = {{ as_of_date() }})
    group by 1, 2
),

weeks as (
    select period_start, week_start from weekly_flows
    union
    select period_start, {{ add_days(trunc_date('week', 'snapshot_date'), 7) }} from levels
    where snapshot_date < {{ as_of_date() }}
    union
    select period_start, {{ trunc_date('week', 'snapshot_date') }} from levels
),

waterfall as (
    select
        w.period_start,
        w.week_start,
        least({{ add_days('w.week_start', 6) }}, {{ as_of_date() }}) as week_end,
        coalesce(s.open_amount, 0) as start_amount,
        coalesce(s.open_count, 0) as start_count,
        coalesce(f.created_amount, 0) as created_amount,
        coalesce(f.created_count, 0) as created_count,
        coalesce(f.pulled_in_amount, 0) as pulled_in_amount,
        coalesce(f.pulled_in_count, 0) as pulled_in_count,
        coalesce(f.pushed_out_amount, 0) as pushed_out_amount,
        coalesce(f.pushed_out_count, 0) as pushed_out_count,
        coalesce(f.won_amount, 0) as won_amount,
        coalesce(f.won_count, 0) as won_count,
        coalesce(f.lost_amount, 0) as lost_amount,
        coalesce(f.lost_count, 0) as lost_count,
        coalesce(f.amount_change, 0) as amount_change,
        coalesce(e.open_amount, 0) as end_amount,
        coalesce(e.open_count, 0) as end_count
    from weeks as w
    left join weekly_flows as f on f.period_start = w.period_start and f.week_start = w.week_start
    left join levels as s
        on s.period_start = w.period_start and s.snapshot_date = {{ add_days('w.week_start', -1) }}
    left join levels as e
        on e.period_start = w.period_start
        and e.snapshot_date = least({{ add_days('w.week_start', 6) }}, {{ as_of_date() }})
    where w.week_start <= {{ as_of_date() }}
    {%- if is_incremental() %}
      and w.week_start >= {{ first_week }}
    {%- endif %}
)

select
    cast(period_start as date) as period_start,
    cast(week_start as date) as week_start,
    cast(week_end as date) as week_end,
    cast(start_amount as double precision) as start_amount,
    cast(created_amount as double precision) as created_amount,
    cast(pulled_in_amount as double precision) as pulled_in_amount,
    cast(pushed_out_amount as double precision) as pushed_out_amount,
    cast(won_amount as double precision) as won_amount,
    cast(lost_amount as double precision) as lost_amount,
    cast(amount_change as double precision) as amount_change,
    cast(end_amount as double precision) as end_amount,
    cast(start_count as bigint) as start_count,
    cast(created_count as bigint) as created_count,
    cast(pulled_in_count as bigint) as pulled_in_count,
    cast(pushed_out_count as bigint) as pushed_out_count,
    cast(won_count as bigint) as won_count,
    cast(lost_count as bigint) as lost_count,
    cast(end_count as bigint) as end_count,
    cast(pushed_out_amount / nullif(start_amount, 0) as double precision) as slip_rate
from waterfall
