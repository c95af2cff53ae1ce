{# One row per (activity, address): an e-mail's From, To and Cc, a meeting's organizer and
   attendees (whatever their PARTSTAT). An address with several roles keeps the first of
   from/organizer, to, cc, attendee. `address_class`: internal (company domains), partner
   (partner_domains seed), free_mail (free_mail_domains seed) or external. Incremental
   (macros/activity_window.sql): it reads nothing but the landed activity (staging) and seeds,
   so a nightly run recomputes what landed since (activity_window='landed'). #}
{{ config(materialized='incremental', incremental_strategy='activity_window',
          activity_window='landed', schema=var('state_schema'),
          window_column='occurred_at', unique_key='activity_id', on_schema_change='fail') }}
with raw_participants as (
    select message_id as activity_id, from_address as address, from_domain as domain,
           is_internal_sender as is_internal, from_is_hashed as is_hashed,
           'from' as participant_role, 1 as role_rank, cast(null as {{ dbt.type_string() }}) as partstat,
           sent_at as occurred_at
    from {{ ref('stg_activity__emails') }}
    where from_address is not null {{- activity_window_filter('sent_at', 'and') }}

    union all

    select message_id, address, domain, is_internal, address_is_hashed,
           recipient_kind, case when recipient_kind = 'to' then 2 else 3 end, cast(null as {{ dbt.type_string() }}),
           sent_at
    from {{ ref('stg_activity__email_recipients') }} {{- activity_window_filter('sent_at') }}

    union all

    select meeting_id, organizer, organizer_domain, is_internal_organizer, organizer_is_hashed,
           'organizer', 1, cast(null as {{ dbt.type_string() }}), starts_at
    from {{ ref('stg_activity__meetings') }}
    where organizer is not null and not is_deleted {{- activity_window_filter('starts_at', 'and') }}

    union all

    select a.meeting_id, a.address, a.domain, a.is_internal, a.address_is_hashed,
           case when a.is_organizer then 'organizer' else 'attendee' end,
           case when a.is_organizer then 1 else 4 end, a.partstat, a.starts_at
    from {{ ref('stg_activity__meeting_attendees') }} as a {{- activity_window_filter('a.starts_at') }}
),

ranked as (
    select
        p.*,
        row_number() over (
            partition by p.activity_id, p.address
            order by p.role_rank, p.partstat
        ) as address_rank
    from raw_participants as p
)

select
    r.activity_id,
    r.address,
    r.domain,
    r.is_internal,
    r.is_hashed,
    r.participant_role,
    r.partstat,
    case
        when r.is_internal then 'internal'
        when pd.domain is not null then 'partner'
        when fm.domain is not null then 'free_mail'
        else 'external'
    end as address_class,
    r.occurred_at
from ranked as r
left join {{ ref('partner_domains') }} as pd on pd.domain = r.domain
left join {{ ref('free_mail_domains') }} as fm on fm.domain = r.domain
where r.address_rank = 1
{{ activity_window_order() }}
