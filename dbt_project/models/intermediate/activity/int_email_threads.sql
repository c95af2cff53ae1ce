{# The thread of every message: the first Message-ID of its References; without References, the
   thread of the message it replies to (In-Reply-To, followed up the chain as far as the parents
   are known; an unknown parent's id is the thread); without either, its own Message-ID.
   Incremental (macros/activity_window.sql): the messages sent in the window again. #}
{{ config(materialized='incremental', incremental_strategy='activity_window',
          activity_window='landed', schema=var('state_schema'),
          window_column='sent_at', unique_key='message_id', on_schema_change='fail') }}
with recursive emails as (
    select message_id, first_reference_id, in_reply_to_id, sent_at
    from {{ ref('stg_activity__emails') }}
    {#- nothing landed: the walk would still hash every e-mail to join its empty start #}
    {%- if activity_window_is_empty() %} where false{% endif %}
),

chain as (
    -- walk up In-Reply-To while the current message has no References
    select
        e.message_id,
        e.message_id as ancestor_id,
        0 as depth
    from emails as e {{- activity_window_filter('e.sent_at') }}

    union all

    select
        c.message_id,
        a.in_reply_to_id as ancestor_id,
        c.depth + 1 as depth
    from chain as c
    inner join emails as a on a.message_id = c.ancestor_id
    where a.first_reference_id is null
      and a.in_reply_to_id is not null
      and a.in_reply_to_id <> a.message_id
      and c.depth < 100
),

furthest as (
    select * from (
        select
            c.message_id,
            c.ancestor_id,
            c.depth,
            row_number() over (partition by c.message_id order by c.depth desc) as depth_rank
        from chain as c
    ) ranked
    where depth_rank = 1
)

select
    f.message_id,
    coalesce(a.first_reference_id, f.ancestor_id) as thread_id,
    case
        when f.depth = 0 and a.first_reference_id is not null then 'references'
        when f.depth = 0 then 'own_id'
        when a.first_reference_id is not null then 'in_reply_to_chain_references'
        else 'in_reply_to_chain'
    end as thread_method,
    f.depth as reply_depth_walked,
    m.sent_at
from furthest as f
inner join emails as m on m.message_id = f.message_id
left join emails as a on a.message_id = f.ancestor_id
{{ activity_window_order() }}
