{# Win rate by count (won / closed) and by amount (won amount / closed amount) of closed
   opportunities, one long table: quarter (of the close date, or 'all') x opportunity type (or
   'all') x cut, where a cut is a dimension (segment, lead_source, owner, or 'all' for the
   total) and one of its values. One table rather than one mart per cut: one contract and one
   set of tests, a dashboard filters on `dimension`, and a new cut is one more branch below. #}
with deals as (
    select
        close_quarter,
        close_quarter_start,
        coalesce(opportunity_type, 'Unknown') as opportunity_type,
        is_won,
        amount,
        segment,
        coalesce(lead_source, 'Unknown') as lead_source,
        coalesce(owner_id, 'Unknown') as owner_id,
        owner_name
    from {{ ref('fct_win_loss') }}
),

cuts as (
    select d.*, 'all' as dimension, 'all' as dimension_value, 'All' as dimension_label from deals as d
    union all
    select d.*, 'segment', d.segment, d.segment from deals as d
    union all
    select d.*, 'lead_source', d.lead_source, d.lead_source from deals as d
    union all
    select d.*, 'owner', d.owner_id, coalesce(d.owner_name, d.owner_id) from deals as d
),

aggregated as (
    select
        case when grouping(close_quarter) = 1 then 'all' else close_quarter end as quarter,
        case when grouping(close_quarter) = 1 then null else min(close_quarter_start) end as quarter_start,
        case when grouping(opportunity_type) = 1 then 'all' else opportunity_type end as opportunity_type,
        dimension,
        dimension_value,
        min(dimension_label) as dimension_label,
        count(*) as closed,
        count(case when is_won then 1 end) as won,
        {{ exact_sum('amount') }} as closed_amount,
        {{ exact_sum('case when is_won then amount else 0 end') }} as won_amount
    from cuts
    group by grouping sets (
        (close_quarter, opportunity_type, dimension, dimension_value),
        (close_quarter, dimension, dimension_value),
        (opportunity_type, dimension, dimension_value),
        (dimension, dimension_value)
    )
)

select
    cast(quarter as {{ dbt.type_string() }}) as quarter,
    cast(quarter_start as date) as quarter_start,
    cast(opportunity_type as {{ dbt.type_string() }}) as opportunity_type,
    cast(dimension as {{ dbt.type_string() }}) as dimension,
    cast(dimension_value as {{ dbt.type_string() }}) as dimension_value,
    cast(dimension_label as {{ dbt.type_string() }}) as dimension_label,
    cast(closed as bigint) as closed,
    cast(won as bigint) as won,
    cast(closed - won as bigint) as lost,
    {{ round_double('cast(won as double precision) / closed', 6) }} as win_rate,
    cast(coalesce(closed_amount, 0) as double precision) as closed_amount,
    cast(coalesce(won_amount, 0) as double precision) as won_amount,
    {{ round_double('won_amount / nullif(closed_amount, 0)', 6) }} as win_rate_by_amount
from aggregated
