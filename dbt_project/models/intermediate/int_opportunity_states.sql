{# An opportunity's state (stage, amount, close date) as a series of day intervals: one row per
   day on which the state changed, valid from that day to the day before the next change (the
   last one to the run's as-of date). The state of a day is the state at its end.

   States come from the recorded history rows and from the opportunity record itself, which is
   the latest state as of its modification instant (this keeps the current state right when a
   history row was rejected at landing). An opportunity without any history row gets its record
   from its creation. The first state is carried back to the creation day. Stage attributes
   (order, closed, won, probability, forecast category) come from the sales process map seed;
   a stage missing from the seed falls back to the CRM's own closed/won flags.
   A table, not a view like the other intermediates: three marts read it, and its windows over
   the whole history cost more than writing it once. #}
{{ config(materialized='table') }}
with opportunities as (
    select *
    from {{ ref('int_opportunities_unioned') }}
    where not is_deleted and created_at < {{ as_of_end() }}
),

with_history as (
    select distinct opportunity_id from {{ ref('int_opportunity_history_unioned') }}
),

changes as (
    select
        h.opportunity_id,
        h.changed_at,
        1 as origin_rank,
        h.change_id,
        h.stage_name,
        h.amount,
        h.close_date,
        cast(null as boolean) as crm_is_closed,
        cast(null as boolean) as crm_is_won
    from {{ ref('int_opportunity_history_unioned') }} as h
    inner join opportunities as o on o.opportunity_id = h.opportunity_id
    where h.changed_at < {{ as_of_end() }}

    union all

    select
        o.opportunity_id,
        case when wh.opportunity_id is null then o.created_at else o.modified_at end as changed_at,
        2 as origin_rank,
        o.opportunity_id as change_id,
        o.stage_name,
        o.amount,
        o.close_date,
        o.crm_is_closed,
        o.crm_is_won
    from opportunities as o
    left join with_history as wh on wh.opportunity_id = o.opportunity_id
    where (case when wh.opportunity_id is null then o.created_at else o.modified_at end)
          < {{ as_of_end() }}
),

last_of_day as (
    select * from (
        select
            c.*,
            cast(c.changed_at as date) as change_date,
            row_number() over (
                partition by c.opportunity_id, cast(c.changed_at as date)
                order by c.changed_at desc, c.origin_rank desc, {{ binary_text('c.change_id') }} desc
            ) as rank_in_day
        from changes as c
    ) ranked
    where rank_in_day = 1
),

sequenced as (
    select
        d.*,
        row_number() over (partition by d.opportunity_id order by d.change_date) as state_number,
        lead(d.change_date) over (partition by d.opportunity_id order by d.change_date) as next_change_date
    from last_of_day as d
),

mapped as (
    select
        s.opportunity_id,
        s.state_number,
        case when s.state_number = 1 then least(s.change_date, cast(o.created_at as date))
             else s.change_date end as valid_from,
        coalesce({{ add_days('s.next_change_date', -1) }}, {{ as_of_date() }}) as valid_to,
        s.stage_name,
        m.stage_order,
        coalesce(m.is_closed, s.crm_is_closed, false) as is_closed,
        coalesce(m.is_won, s.crm_is_won, false) as is_won,
        m.default_probability as stage_probability,
        m.forecast_category,
        s.amount,
        s.close_date
    from sequenced as s
    inner join opportunities as o on o.opportunity_id = s.opportunity_id
    left join {{ ref('sales_process_map') }} as m on m.stage_name = s.stage_name
)

select
    *,
    lag(is_closed) over (partition by opportunity_id order by state_number) as previous_is_closed
from mapped
