{# One row per stage change: consecutive stage-history rows of an opportunity (ordered by time,
   then record id) whose stage differs. Stage order and closed/won come from the sales process
   map seed:
   - is_regression: to a lower stage order;
   - is_skip: to an open or won stage whose order exceeds the previous one by more than 1
     (a move to a lost stage is never a skip);
   - transition_type: forward (higher order, open or won), regression, lost (to a closed stage
     that is not won) or lateral (same order). #}
with history as (
    select
        h.opportunity_id,
        h.change_id,
        h.changed_at,
        h.stage_name,
        row_number() over (
            partition by h.opportunity_id order by h.changed_at, {{ binary_text('h.change_id') }}
        ) as row_number_in_history
    from {{ ref('int_opportunity_history_unioned') }} as h
    inner join {{ ref('fct_opportunity') }} as o on o.opportunity_id = h.opportunity_id
    where h.changed_at < {{ as_of_end() }}
),

with_previous as (
    select
        h.*,
        lag(h.stage_name) over (partition by h.opportunity_id order by h.row_number_in_history) as from_stage
    from history as h
),

transitions as (
    select
        w.*,
        row_number() over (partition by w.opportunity_id order by w.row_number_in_history) as transition_number
    from with_previous as w
    where w.from_stage is not null and w.from_stage <> w.stage_name
),

timed as (
    select
        t.*,
        coalesce(
            lag(t.changed_at) over (partition by t.opportunity_id order by t.transition_number),
            f.first_changed_at) as from_stage_entered_at
    from transitions as t
    inner join (
        select opportunity_id, min(changed_at) as first_changed_at from history group by opportunity_id
    ) as f on f.opportunity_id = t.opportunity_id
),

stages as (
    select * from {{ ref('sales_process_map') }}
)

select
    cast({{ dbt.hash(dbt.concat(["t.opportunity_id", "'|'", "t.change_id"])) }} as {{ dbt.type_string() }}) as stage_transition_id,
    cast(t.opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
    cast(t.transition_number as bigint) as transition_number,
    cast(t.change_id as {{ dbt.type_string() }}) as history_record_id,
    cast(t.changed_at as timestamp) as transitioned_at,
    cast(t.changed_at as date) as transition_date,
    cast(t.from_stage as {{ dbt.type_string() }}) as from_stage,
    cast(t.stage_name as {{ dbt.type_string() }}) as to_stage,
    cast(fs.stage_order as bigint) as from_stage_order,
    cast(ts.stage_order as bigint) as to_stage_order,
    cast({{ fractional_days_between('t.from_stage_entered_at', 't.changed_at') }} as double precision) as days_in_from_stage,
    cast(case
        when ts.is_closed and not ts.is_won then 'lost'
        when ts.stage_order > fs.stage_order then 'forward'
        when ts.stage_order < fs.stage_order then 'regression'
        else 'lateral'
    end as {{ dbt.type_string() }}) as transition_type,
    cast(coalesce(ts.stage_order < fs.stage_order, false) as boolean) as is_regression,
    cast(coalesce((ts.is_won or not ts.is_closed) and ts.stage_order > fs.stage_order + 1, false) as boolean) as is_skip
from timed as t
left join stages as fs on fs.stage_name = t.from_stage
left join stages as ts on ts.stage_name = t.stage_name
