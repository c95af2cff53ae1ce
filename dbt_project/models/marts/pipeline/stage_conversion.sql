{# Cohort (calendar month of entering a stage) x open stage of the sales process map. From the
   stage history (all opportunity types, ordered by time then record id): an opportunity enters
   an open stage at its first history row with that stage; `entered` counts them,
   `reached_next` those with a later row whose stage is won or an open stage with a higher
   stage order, `won` those whose opportunity is won now. #}
with stages as (
    select * from {{ ref('sales_process_map') }}
),

history as (
    select
        h.opportunity_id,
        h.changed_at,
        h.stage_name,
        s.stage_order,
        s.is_closed,
        s.is_won,
        o.is_won as opportunity_is_won,
        row_number() over (
            partition by h.opportunity_id order by h.changed_at, {{ binary_text('h.change_id') }}
        ) as row_number_in_history
    from {{ ref('int_opportunity_history_unioned') }} as h
    inner join {{ ref('fct_opportunity') }} as o on o.opportunity_id = h.opportunity_id
    left join stages as s on s.stage_name = h.stage_name
    where h.changed_at < {{ as_of_end() }}
),

with_reach as (
    select
        h.*,
        {#- the best stage reached after this row: a won stage beats every open stage #}
        max(case when h.is_won then 1000000
                 when not h.is_closed then h.stage_order
                 else -1 end) over (
            partition by h.opportunity_id order by h.row_number_in_history
            rows between 1 following and unbounded following
        ) as best_later_reach,
        row_number() over (
            partition by h.opportunity_id, h.stage_name order by h.row_number_in_history
        ) as visit_number
    from history as h
),

entries as (
    select
        {{ trunc_date('month', 'changed_at') }} as cohort_month,
        stage_name,
        stage_order,
        case when best_later_reach > stage_order then 1 else 0 end as reached_next,
        case when opportunity_is_won then 1 else 0 end as won
    from with_reach
    where visit_number = 1 and not is_closed
)

select
    cast(cohort_month as date) as cohort_month,
    cast(stage_name as {{ dbt.type_string() }}) as stage_name,
    cast(stage_order as bigint) as stage_order,
    cast(count(*) as bigint) as entered,
    cast(sum(reached_next) as bigint) as reached_next,
    cast(sum(won) as bigint) as won,
    cast(sum(reached_next) as double precision) / count(*) as next_stage_rate,
    cast(sum(won) as double precision) / count(*) as win_rate
from entries
group by cohort_month, stage_name, stage_order
