{# Verifier x quarter (of the verification) x segment: number of cycles and the mean, median and
   80th percentile (linear interpolation) of cycle_days = verified - started (fct_verifier_cycle).
   Rows with quarter = 'all' and/or segment = 'all' aggregate over every quarter / segment (the
   percentiles of the pooled cycles, not an average of the groups'). Days are rounded to 6
   decimals (0.09 s), so that both databases give the same digits. #}
with cycles as (
    select
        verifier_key,
        {{ quarter_label('verified_quarter') }} as quarter,
        verified_quarter,
        coalesce(segment, 'Unknown') as segment,
        cycle_days
    from {{ ref('fct_verifier_cycle') }}
),

aggregated as (
    select
        verifier_key,
        case when grouping(quarter) = 1 then 'all' else quarter end as quarter,
        case when grouping(quarter) = 1 then null else min(verified_quarter) end as quarter_start,
        case when grouping(segment) = 1 then 'all' else segment end as segment,
        count(*) as cycles,
        {{ exact_avg('cycle_days') }} as mean_days,
        percentile_cont(0.5) within group (order by cycle_days) as median_days,
        percentile_cont(0.8) within group (order by cycle_days) as p80_days,
        min(cycle_days) as min_days,
        max(cycle_days) as max_days
    from cycles
    group by grouping sets (
        (verifier_key, quarter, segment),
        (verifier_key, quarter),
        (verifier_key, segment),
        (verifier_key)
    )
)

select
    cast(a.verifier_key as {{ dbt.type_string() }}) as verifier_key,
    cast(c.buying_job as {{ dbt.type_string() }}) as buying_job,
    cast(a.quarter as {{ dbt.type_string() }}) as quarter,
    cast(a.quarter_start as date) as quarter_start,
    cast(a.segment as {{ dbt.type_string() }}) as segment,
    cast(a.cycles as bigint) as cycles,
    {{ round_double('a.mean_days', 6) }} as mean_days,
    {{ round_double('a.median_days', 6) }} as median_days,
    {{ round_double('a.p80_days', 6) }} as p80_days,
    {{ round_double('a.min_days', 6) }} as min_days,
    {{ round_double('a.max_days', 6) }} as max_days
from aggregated as a
inner join {{ ref('verifier_catalogue') }} as c on c.verifier_key = a.verifier_key
