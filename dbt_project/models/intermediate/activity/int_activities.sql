{# One row per activity: an e-mail message or a meeting occurrence (deleted occurrences left
   out), with its instant, thread (e-mails: int_email_threads; meetings: the UID, so the
   occurrences of a series share it) and sender or organizer. Incremental
   (macros/activity_window.sql): it reads nothing but the landed activity (staging, threads), so
   a nightly run recomputes what landed since (activity_window='landed'). #}
{{ config(materialized='incremental', incremental_strategy='activity_window',
          activity_window='landed', schema=var('state_schema'),
          window_column='occurred_at', unique_key='activity_id', on_schema_change='fail') }}
select
    e.message_id as activity_id,
    'email' as activity_type,
    e.sent_at as occurred_at,
    t.thread_id,
    e.from_address as sender_address,
    e.is_internal_sender,
    cast(null as {{ dbt.type_string() }}) as meeting_status,
    false as is_cancelled,
    false as is_all_day,
    cast(null as double precision) as duration_minutes,
    e.subject
from {{ ref('stg_activity__emails') }} as e
inner join {{ ref('int_email_threads') }} as t
    on t.message_id = e.message_id {{- activity_window_filter('t.sent_at', 'and') }}
{{- activity_window_filter('e.sent_at') }}

union all

select
    m.meeting_id as activity_id,
    'meeting' as activity_type,
    m.starts_at as occurred_at,
    coalesce(m.uid, m.meeting_id) as thread_id,
    m.organizer as sender_address,
    m.is_internal_organizer as is_internal_sender,
    m.status as meeting_status,
    m.is_cancelled,
    m.is_all_day,
    {{ fractional_days_between('m.starts_at', 'm.ends_at') }} * 1440.0 as duration_minutes,
    m.summary as subject
from {{ ref('stg_activity__meetings') }} as m
where not m.is_deleted {{- activity_window_filter('m.starts_at', 'and') }}
{{ activity_window_order() }}
