{# Period (quarter) x owner, as of the run's date, for the as-of quarter and the next
   var('coverage_quarters_ahead') quarters:
   - open_pipeline: open opportunities whose close date falls in the period;
   - closed_won: won opportunities whose close date falls in the period;
   - coverage = open_pipeline / (quota - closed_won) (null once the quota is met);
   - reverse funnel: deals_needed = (quota - closed_won) / avg_deal_size / win_rate, with the
     average won deal size and the win rate (won / closed, by count) of the owner's deals closed
     in the var('coverage_lookback_days') days up to the as-of date, or the company's when the
     owner closed none. Quota is the owner's quarterly quota from the CRM (0 when missing). #}
with opportunities as (
    select *, {{ trunc_date('quarter', 'close_date') }} as period_start
    from {{ ref('fct_opportunity') }}
),

periods as (
    {%- for k in range(var('coverage_quarters_ahead') + 1) %}
    select cast({{ dbt.dateadd('month', 3 * k, trunc_date('quarter', as_of_date())) }} as date) as period_start
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

owners as (
    select distinct owner_id from opportunities where owner_id is not null
    union
    select user_id from {{ ref('int_users_unioned') }} where quarterly_quota > 0
),

period_owner as (
    select p.period_start, o.owner_id
    from periods as p
    cross join owners as o
),

amounts as (
    select
        period_start,
        owner_id,
        {{ exact_sum('case when not is_closed then coalesce(amount, 0) else 0 end') }} as open_pipeline,
        sum(case when not is_closed then 1 else 0 end) as open_count,
        {{ exact_sum('case when is_won then coalesce(amount, 0) else 0 end') }} as closed_won,
        sum(case when is_won then 1 else 0 end) as won_count
    from opportunities
    group by period_start, owner_id
),

recent_closed as (
    select *
    from opportunities
    where is_closed
      and close_date > {{ add_days(as_of_date(), -var('coverage_lookback_days')) }}
      and close_date <= {{ as_of_date() }}
),

owner_rates as (
    select
        owner_id,
        {{ exact_avg('case when is_won then amount end') }} as avg_deal_size,
        cast(sum(case when is_won then 1 else 0 end) as double precision) / count(*) as win_rate
    from recent_closed
    group by owner_id
),

company_rates as (
    select
        {{ exact_avg('case when is_won then amount end') }} as avg_deal_size,
        cast(sum(case when is_won then 1 else 0 end) as double precision) / nullif(count(*), 0) as win_rate
    from recent_closed
),

combined as (
    select
        po.period_start,
        po.owner_id,
        coalesce(u.quarterly_quota, 0) as quota,
        coalesce(a.open_pipeline, 0) as open_pipeline,
        coalesce(a.open_count, 0) as open_count,
        coalesce(a.closed_won, 0) as closed_won,
        coalesce(a.won_count, 0) as won_count,
        coalesce(r.avg_deal_size, c.avg_deal_size) as avg_deal_size,
        case when r.owner_id is not null then r.win_rate else c.win_rate end as win_rate
    from period_owner as po
    left join amounts as a on a.period_start = po.period_start and a.owner_id = po.owner_id
    left join {{ ref('int_users_unioned') }} as u on u.user_id = po.owner_id
    left join owner_rates as r on r.owner_id = po.owner_id
    cross join company_rates as c
)

select
    {{ as_of_date() }} as as_of_date,
    cast(period_start as date) as period_start,
    cast(owner_id as {{ dbt.type_string() }}) as owner_id,
    cast(quota as double precision) as quota,
    cast(closed_won as double precision) as closed_won,
    cast(won_count as bigint) as won_count,
    cast(open_pipeline as double precision) as open_pipeline,
    cast(open_count as bigint) as open_count,
    cast(greatest(quota - closed_won, 0) as double precision) as remaining_quota,
    cast(case when quota - closed_won > 0 then open_pipeline / (quota - closed_won) end as double precision) as coverage,
    cast(avg_deal_size as double precision) as avg_deal_size,
    cast(win_rate as double precision) as win_rate,
    cast(case when quota - closed_won > 0
              then (quota - closed_won) / nullif(avg_deal_size, 0) / nullif(win_rate, 0) end
         as double precision) as deals_needed
from combined
