{{ config(
    materialized='versioned_incremental',
    incremental_strategy='delete+insert',
    unique_key='opportunity_id',
    post_hook=[
        "{{ versioned_retire('opportunity_id not in (select opportunity_id from '
                             ~ ref('fct_opportunity_daily') ~ ')') }}"
    ]
) }}
{# Opportunity x week (Monday): every week in which the opportunity was open (from its creation
   to its close, the as-of date while open: the days of fct_opportunity_daily), with the activity
   matched to it that week (fct_activity, up to the as-of date):
   - e-mails in and out, meetings held and cancelled, human vs digital touches (fct_activity's
     touch_type);
   - stakeholders engaged that week (int_opportunity_stakeholder_touches), the new ones, and all
     so far (multithreading);
   - buyer->rep responses (int_email_responses) of buyer messages sent that week: pairs, median
     hours, share over 24 h; rep->buyer pairs and median hours;
   - the journey phase: the opportunity's CRM stage that week (the stage of its last open day in
     the week; in the week it closed, the last open stage before the close).

   Incremental (by opportunity): a run recomputes every week of the opportunities whose inputs
   changed since the version it continues, and keeps the others' rows: those with days or
   activity this version wrote or replaced in fct_opportunity_daily or fct_activity
   (versioned_changes), those with a message answered in the activity window (the message may be
   older, and the reply matched to another opportunity), and those whose account or owner
   changed. The post-hook retires the opportunities without days (deleted since). #}
{%- set activity = ref('fct_activity') %}
{%- do ref('int_activity_window') %}  {#- a dependency taken at parse time: see activity_window.sql #}
{%- set only_affected = ' opportunity_id in (select opportunity_id from affected)' %}
with
{%- if is_incremental() %}
affected as (
    select opportunity_id from {{ versioned_changes(ref('fct_opportunity_daily')) }} as d
    union
    select opportunity_id from {{ versioned_changes(activity) }} as a
    where opportunity_id is not null
    union
    select opportunity_id from {{ ref('int_email_responses') }}
    where opportunity_id is not null
      and responded_at >= {{ activity_window_bound() }}
    union
    select o.opportunity_id
    from {{ ref('fct_opportunity') }} as o
    inner join (select distinct opportunity_id, account_id, owner_id from {{ this }}) as e
        on e.opportunity_id = o.opportunity_id
    where o.account_id is distinct from e.account_id or o.owner_id is distinct from e.owner_id
),
{%- endif %}

{#- the day that gives each week its phase: the last open day, else the close day (aggregate and
    join back: cheaper than ranking every day) #}
week_days as (
    select
        opportunity_id,
        {{ trunc_date('week', 'snapshot_date') }} as week_start,
        coalesce(max(case when not is_closed then snapshot_date end), max(snapshot_date)) as snapshot_date
    from {{ ref('fct_opportunity_daily') }}{{ ' where' ~ only_affected if is_incremental() }}
    group by opportunity_id, {{ trunc_date('week', 'snapshot_date') }}
),

weeks as (
    select w.opportunity_id, w.week_start, d.stage_name, d.stage_order
    from week_days as w
    inner join {{ ref('fct_opportunity_daily') }} as d
        on d.opportunity_id = w.opportunity_id and d.snapshot_date = w.snapshot_date
),

activity as (
    select
        opportunity_id,
        week_start,
        sum(case when activity_type = 'email' and direction = 'inbound' then 1 else 0 end) as emails_inbound,
        sum(case when activity_type = 'email' and direction = 'outbound' then 1 else 0 end) as emails_outbound,
        sum(case when activity_type = 'meeting' and not is_cancelled then 1 else 0 end) as meetings_held,
        sum(case when activity_type = 'meeting' and is_cancelled then 1 else 0 end) as meetings_cancelled,
        sum(case when touch_type = 'human' then 1 else 0 end) as human_touches,
        sum(case when touch_type = 'digital' then 1 else 0 end) as digital_touches
    from {{ activity }}
    where opportunity_id is not null and not is_future{{ ' and' ~ only_affected if is_incremental() }}
    group by opportunity_id, week_start
),

{#- one row per stakeholder and week: the counts below are then plain counts, not distinct ones -#}
touch_weeks as (
    select distinct
        opportunity_id,
        address,
        {{ trunc_date('week', 'occurred_at') }} as week_start
    from {{ ref('int_opportunity_stakeholder_touches') }}
    where address is not null{{ ' and' ~ only_affected if is_incremental() }}
),

first_weeks as (
    select opportunity_id, address, min(week_start) as first_week
    from touch_weeks
    group by opportunity_id, address
),

stakeholders as (
    select
        t.opportunity_id,
        t.week_start,
        count(*) as stakeholders_engaged,
        sum(case when t.week_start = f.first_week then 1 else 0 end) as new_stakeholders
    from touch_weeks as t
    inner join first_weeks as f on f.opportunity_id = t.opportunity_id and f.address = t.address
    group by t.opportunity_id, t.week_start
),

responses as (
    select
        opportunity_id,
        {{ trunc_date('week', 'sent_at') }} as week_start,
        sum(case when direction = 'buyer_to_rep' then 1 else 0 end) as buyer_to_rep_responses,
        percentile_cont(0.5) within group (
            order by case when direction = 'buyer_to_rep' then response_hours end) as buyer_to_rep_median_hours,
        avg(case when direction = 'buyer_to_rep' then case when response_hours > 24 then 1.0 else 0.0 end end)
            as buyer_to_rep_over_24h_share,
        sum(case when direction = 'rep_to_buyer' then 1 else 0 end) as rep_to_buyer_responses,
        percentile_cont(0.5) within group (
            order by case when direction = 'rep_to_buyer' then response_hours end) as rep_to_buyer_median_hours
    from {{ ref('int_email_responses') }}
    where opportunity_id is not null and responded_at < {{ as_of_end() }}{{ ' and' ~ only_affected if is_incremental() }}
    group by opportunity_id, {{ trunc_date('week', 'sent_at') }}
)

select
    cast(w.opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
    w.week_start,
    cast(o.account_id as {{ dbt.type_string() }}) as account_id,
    cast(o.owner_id as {{ dbt.type_string() }}) as owner_id,
    cast(w.stage_name as {{ dbt.type_string() }}) as journey_phase,
    cast(w.stage_order as bigint) as journey_phase_order,
    cast(coalesce(a.emails_inbound, 0) as bigint) as emails_inbound,
    cast(coalesce(a.emails_outbound, 0) as bigint) as emails_outbound,
    cast(coalesce(a.meetings_held, 0) as bigint) as meetings_held,
    cast(coalesce(a.meetings_cancelled, 0) as bigint) as meetings_cancelled,
    cast(coalesce(a.human_touches, 0) as bigint) as human_touches,
    cast(coalesce(a.digital_touches, 0) as bigint) as digital_touches,
    cast(coalesce(st.stakeholders_engaged, 0) as bigint) as stakeholders_engaged,
    cast(coalesce(st.new_stakeholders, 0) as bigint) as new_stakeholders,
    cast(sum(coalesce(st.new_stakeholders, 0)) over (
        partition by w.opportunity_id order by w.week_start
        rows between unbounded preceding and current row) as bigint) as stakeholders_to_date,
    cast(coalesce(r.buyer_to_rep_responses, 0) as bigint) as buyer_to_rep_responses,
    {{ round_double('r.buyer_to_rep_median_hours', 6) }} as buyer_to_rep_median_hours,
    {{ round_double('r.buyer_to_rep_over_24h_share', 6) }} as buyer_to_rep_over_24h_share,
    cast(coalesce(r.rep_to_buyer_responses, 0) as bigint) as rep_to_buyer_responses,
    {{ round_double('r.rep_to_buyer_median_hours', 6) }} as rep_to_buyer_median_hours
from weeks as w
inner join {{ ref('fct_opportunity') }} as o on o.opportunity_id = w.opportunity_id
left join activity as a on a.opportunity_id = w.opportunity_id and a.week_start = w.week_start
left join stakeholders as st on st.opportunity_id = w.opportunity_id and st.week_start = w.week_start
left join responses as r on r.opportunity_id = w.opportunity_id and r.week_start = w.week_start
