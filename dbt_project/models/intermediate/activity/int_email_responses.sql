{# One row per response pair in an e-mail thread (int_email_threads), messages ordered by Date
   (then Message-ID):
   - buyer_to_rep: a message from a buyer (neither an internal nor a partner address) and the
     next later message of the thread from an internal address;
   - rep_to_buyer: a message from an internal address and the next later buyer message.
   A message without such a later message has no pair. The pair belongs to the opportunity and
   account matched to the message answered (int_activity_matches); rep_user_id
   is the internal party's CRM user, when its address is a user's e-mail. Incremental
   (macros/activity_window.sql): the pairs of every thread with a message in the window again. #}
{{ config(materialized='incremental', incremental_strategy='activity_window',
          schema=var('state_schema'),
          unique_key='thread_id', on_schema_change='fail') }}
with messages as (
    select
        a.activity_id as message_id,
        a.thread_id,
        a.occurred_at as sent_at,
        a.sender_address,
        case
            when a.is_internal_sender then 'internal'
            when pd.domain is not null then 'partner'
            when a.sender_address is not null then 'buyer'
        end as sender_side
    from {{ ref('int_activities') }} as a
    left join {{ ref('stg_activity__emails') }} as e on e.message_id = a.activity_id
    left join {{ ref('partner_domains') }} as pd on pd.domain = e.from_domain
    where a.activity_type = 'email'
    {{- activity_window_keys(ref('int_activities'), 'thread_id', 'occurred_at', 'and', 'a.thread_id') }}
),

ordered as (
    select
        m.*,
        row_number() over (partition by m.thread_id order by m.sent_at, {{ binary_text('m.message_id') }}) as position
    from messages as m
),

next_positions as (
    select
        o.*,
        min(case when o.sender_side = 'internal' then o.position end) over (
            partition by o.thread_id order by o.position
            rows between 1 following and unbounded following) as next_internal_position,
        min(case when o.sender_side = 'buyer' then o.position end) over (
            partition by o.thread_id order by o.position
            rows between 1 following and unbounded following) as next_buyer_position
    from ordered as o
),

pairs as (
    select
        q.thread_id,
        'buyer_to_rep' as direction,
        q.message_id,
        r.message_id as response_message_id,
        q.sent_at,
        r.sent_at as responded_at,
        r.sender_address as internal_address
    from next_positions as q
    inner join ordered as r
        on r.thread_id = q.thread_id and r.position = q.next_internal_position
    where q.sender_side = 'buyer'

    union all

    select
        q.thread_id,
        'rep_to_buyer' as direction,
        q.message_id,
        r.message_id as response_message_id,
        q.sent_at,
        r.sent_at as responded_at,
        q.sender_address as internal_address
    from next_positions as q
    inner join ordered as r
        on r.thread_id = q.thread_id and r.position = q.next_buyer_position
    where q.sender_side = 'internal'
)

select
    p.thread_id,
    m.opportunity_id,
    m.account_id,
    p.direction,
    p.message_id,
    p.response_message_id,
    p.sent_at,
    p.responded_at,
    {{ activity_hours_between('p.sent_at', 'p.responded_at') }} as response_hours,
    u.user_id as rep_user_id
from pairs as p
left join {{ ref('int_activity_matches') }} as m on m.activity_id = p.message_id
left join {{ ref('int_activity_user_addresses') }} as u on u.email = lower(p.internal_address)
