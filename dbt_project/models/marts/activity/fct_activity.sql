{# One row per activity: every e-mail message and meeting occurrence landed (deleted occurrences
   left out), matched or not (int_activity_matches), with
   - direction: internal (no external participant), outbound (sent or organised by an internal
     address, to external ones), inbound (sent or organised by an external address);
   - touch_type: human (a meeting that was not cancelled, with an external participant), digital
     (an e-mail with an external participant), none (internal-only, or a cancelled meeting);
   - the matched opportunity's CRM stage on the activity's day (its journey phase).
   Incremental (macros/activity_window.sql): the activity of the window again. #}
{{ config(materialized='versioned_incremental', incremental_strategy='activity_window',
          window_column='occurred_at', unique_key='activity_id') }}
with participant_counts as (
    select
        activity_id,
        count(*) as participants,
        sum(case when is_internal then 1 else 0 end) as internal_participants,
        sum(case when is_internal then 0 else 1 end) as external_participants
    from {{ ref('int_activity_participants') }} {{- activity_window_filter('occurred_at') }}
    group by activity_id
),

activities as (
    select
        a.*,
        m.opportunity_id,
        m.account_id,
        m.match_method,
        m.decided_by,
        m.open_candidates,
        coalesce(pc.participants, 0) as participants,
        coalesce(pc.internal_participants, 0) as internal_participants,
        coalesce(pc.external_participants, 0) as external_participants,
        least(cast(a.occurred_at as date), {{ as_of_date() }}) as state_day
    from {{ ref('int_activities') }} as a
    inner join {{ ref('int_activity_matches') }} as m
        on m.activity_id = a.activity_id {{- activity_window_filter('m.occurred_at', 'and') }}
    left join participant_counts as pc on pc.activity_id = a.activity_id
    {{- activity_window_filter('a.occurred_at') }}
)

select
    cast(a.activity_id as {{ dbt.type_string() }}) as activity_id,
    cast(a.activity_type as {{ dbt.type_string() }}) as activity_type,
    cast(a.occurred_at as timestamp) as occurred_at,
    cast(a.occurred_at as date) as activity_date,
    {{ trunc_date('week', 'a.occurred_at') }} as week_start,
    cast(a.thread_id as {{ dbt.type_string() }}) as thread_id,
    cast(a.opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
    cast(a.account_id as {{ dbt.type_string() }}) as account_id,
    cast(a.match_method as {{ dbt.type_string() }}) as match_method,
    cast({{ activity_match_confidence('a.match_method', 'a.decided_by') }} as double precision) as match_confidence,
    cast(a.decided_by as {{ dbt.type_string() }}) as match_decided_by,
    cast(a.open_candidates as bigint) as open_candidates,
    cast(case
        when a.external_participants = 0 then 'internal'
        when a.is_internal_sender then 'outbound'
        else 'inbound'
    end as {{ dbt.type_string() }}) as direction,
    cast(case
        when a.external_participants = 0 or a.is_cancelled then 'none'
        when a.activity_type = 'meeting' then 'human'
        else 'digital'
    end as {{ dbt.type_string() }}) as touch_type,
    cast(u.user_id as {{ dbt.type_string() }}) as sender_user_id,
    cast(a.participants as bigint) as participants,
    cast(a.internal_participants as bigint) as internal_participants,
    cast(a.external_participants as bigint) as external_participants,
    cast(s.stage_name as {{ dbt.type_string() }}) as stage_name,
    cast(s.stage_order as bigint) as stage_order,
    cast(a.meeting_status as {{ dbt.type_string() }}) as meeting_status,
    a.is_cancelled,
    a.is_all_day,
    {{ round_double('a.duration_minutes', 3) }} as duration_minutes,
    a.occurred_at >= {{ as_of_end() }} as is_future,
    cast(a.subject as {{ dbt.type_string() }}) as subject
from activities as a
left join {{ ref('int_activity_user_addresses') }} as u on u.email = lower(a.sender_address)
left join {{ ref('fct_opportunity_daily') }} as s
    on s.opportunity_id = a.opportunity_id and s.snapshot_date = a.state_day
