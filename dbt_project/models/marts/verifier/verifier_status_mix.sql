{# Snapshot date (every month end before the as-of date, and the as-of date) x verifier x
   status (none, started, verified, regressed):
   - over the opportunities open at the end of the snapshot date, each verifier's latest status
     then ('none' without events): open_count, open_amount and their shares of all open
     opportunities / amount;
   - for lost deals: the deals lost in the var('lost_in_flight_window_days') days up to the
     snapshot date that had any verifier event by then; lost_count = those whose status of this
     verifier was this status on the day they were lost, lost_share = lost_count / lost_deals, and
     lost_in_flight_rate = the share of lost_deals whose status of this verifier was "in flight"
     (var('in_flight_statuses'), default started or regressed) - the same on every status row of
     a snapshot and verifier. #}
{%- set statuses = ['none', 'started', 'verified', 'regressed'] %}
with daily as (
    select * from {{ ref('fct_opportunity_daily') }}
),

snapshots as (
    select distinct {{ add_days(dbt.dateadd('month', 1, trunc_date('month', 'snapshot_date')), -1) }} as snapshot_date
    from daily
    where {{ add_days(dbt.dateadd('month', 1, trunc_date('month', 'snapshot_date')), -1) }} < {{ as_of_date() }}
    union
    select {{ as_of_date() }}
),

catalogue as (
    select verifier_key, buying_job from {{ ref('verifier_catalogue') }}
),

statuses as (
    {%- for s in statuses %}
    select '{{ s }}' as status{{ " union all" if not loop.last }}
    {%- endfor %}
),

{#- a verifier's status as day intervals: the last event of a day holds until the next event day #}
status_intervals as (
    select
        opportunity_id,
        verifier_key,
        status,
        event_date as valid_from,
        coalesce({{ add_days("lead(event_date) over (partition by opportunity_id, verifier_key order by event_date)", -1) }},
                 {{ as_of_date() }}) as valid_to
    from (
        select
            e.*,
            row_number() over (partition by e.opportunity_id, e.verifier_key, e.event_date
                               order by e.event_sequence desc) as rank_in_day
        from {{ ref('fct_verifier_event') }} as e
    ) last_of_day
    where rank_in_day = 1
),

open_on_snapshot as (
    select d.snapshot_date, d.opportunity_id, coalesce(d.amount, 0) as amount
    from daily as d
    inner join snapshots as s on s.snapshot_date = d.snapshot_date
    where d.is_open
),

open_status as (
    select
        o.snapshot_date,
        c.verifier_key,
        coalesce(i.status, 'none') as status,
        count(*) as open_count,
        {{ exact_sum('o.amount') }} as open_amount
    from open_on_snapshot as o
    cross join catalogue as c
    left join status_intervals as i
        on i.opportunity_id = o.opportunity_id
        and i.verifier_key = c.verifier_key
        and o.snapshot_date between i.valid_from and i.valid_to
    group by 1, 2, 3
),

open_totals as (
    select snapshot_date, count(*) as open_total, {{ exact_sum('amount') }} as open_amount_total
    from open_on_snapshot
    group by snapshot_date
),

lost as (
    select d.opportunity_id, max(d.snapshot_date) as lost_date
    from daily as d
    inner join {{ ref('fct_opportunity') }} as o on o.opportunity_id = d.opportunity_id
    where d.is_closed and not d.is_won and o.is_closed and not o.is_won
    group by d.opportunity_id
),

lost_with_verifiers as (
    select l.opportunity_id, l.lost_date
    from lost as l
    where exists (
        select 1 from {{ ref('fct_verifier_event') }} as e
        where e.opportunity_id = l.opportunity_id and e.event_date <= l.lost_date
    )
),

lost_in_window as (
    select s.snapshot_date, l.opportunity_id, l.lost_date
    from snapshots as s
    inner join lost_with_verifiers as l
        on l.lost_date <= s.snapshot_date
        and l.lost_date > {{ add_days('s.snapshot_date', -var('lost_in_flight_window_days')) }}
),

lost_status as (
    select
        l.snapshot_date,
        c.verifier_key,
        coalesce(i.status, 'none') as status,
        count(*) as lost_count
    from lost_in_window as l
    cross join catalogue as c
    left join status_intervals as i
        on i.opportunity_id = l.opportunity_id
        and i.verifier_key = c.verifier_key
        and l.lost_date between i.valid_from and i.valid_to
    group by 1, 2, 3
),

lost_totals as (
    select snapshot_date, count(*) as lost_deals
    from lost_in_window
    group by snapshot_date
),

in_flight as (
    select snapshot_date, verifier_key, sum(lost_count) as in_flight_count
    from lost_status
    where status in ({% for s in var('in_flight_statuses') %}'{{ s }}'{{ ", " if not loop.last }}{% endfor %})
    group by 1, 2
),

grid as (
    select s.snapshot_date, c.verifier_key, c.buying_job, st.status
    from snapshots as s
    cross join catalogue as c
    cross join statuses as st
)

select
    cast(g.snapshot_date as date) as snapshot_date,
    cast(g.verifier_key as {{ dbt.type_string() }}) as verifier_key,
    cast(g.buying_job as {{ dbt.type_string() }}) as buying_job,
    cast(g.status as {{ dbt.type_string() }}) as status,
    cast(coalesce(os.open_count, 0) as bigint) as open_count,
    cast(coalesce(os.open_amount, 0) as double precision) as open_amount,
    cast(coalesce(ot.open_total, 0) as bigint) as open_total,
    cast(coalesce(os.open_count, 0) / nullif(cast(ot.open_total as double precision), 0) as double precision) as open_count_share,
    cast(coalesce(os.open_amount, 0) / nullif(ot.open_amount_total, 0) as double precision) as open_amount_share,
    cast(coalesce(ls.lost_count, 0) as bigint) as lost_count,
    cast(coalesce(lt.lost_deals, 0) as bigint) as lost_deals,
    cast(coalesce(ls.lost_count, 0) / nullif(cast(lt.lost_deals as double precision), 0) as double precision) as lost_share,
    cast(coalesce(f.in_flight_count, 0) / nullif(cast(lt.lost_deals as double precision), 0) as double precision) as lost_in_flight_rate
from grid as g
left join open_status as os
    on os.snapshot_date = g.snapshot_date and os.verifier_key = g.verifier_key and os.status = g.status
left join open_totals as ot on ot.snapshot_date = g.snapshot_date
left join lost_status as ls
    on ls.snapshot_date = g.snapshot_date and ls.verifier_key = g.verifier_key and ls.status = g.status
left join lost_totals as lt on lt.snapshot_date = g.snapshot_date
left join in_flight as f on f.snapshot_date = g.snapshot_date and f.verifier_key = g.verifier_key
