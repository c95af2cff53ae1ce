{# One row per opportunity (deleted ones left out): the external stakeholders engaged, i.e. the
   distinct participant addresses of the activities matched to it (int_activity_matches) that
   are the address of a contact record (deleted or merged ones too) of the opportunity's
   account. Internal, partner and unknown addresses never count. Only activities up to the
   as-of date count (a future meeting occurrence has not engaged anyone yet). #}
with engaged as (
    select
        m.opportunity_id,
        p.address,
        a.occurred_at
    from {{ ref('int_activity_matches') }} as m
    inner join {{ ref('int_activities') }} as a on a.activity_id = m.activity_id
    inner join {{ ref('int_activity_participants') }} as p on p.activity_id = m.activity_id
    inner join {{ ref('int_opportunities_unioned') }} as o on o.opportunity_id = m.opportunity_id
    where m.opportunity_id is not null
      and not p.is_internal
      and a.occurred_at < {{ as_of_end() }}
      and exists (
          select 1
          from {{ ref('int_activity_contact_addresses') }} as c
          where c.email = p.address and c.account_id = o.account_id
      )
),

per_opportunity as (
    select
        opportunity_id,
        count(distinct address) as stakeholders_engaged,
        min(occurred_at) as first_engaged_at,
        max(occurred_at) as last_engaged_at
    from engaged
    group by opportunity_id
)

select
    o.opportunity_id,
    cast(coalesce(s.stakeholders_engaged, 0) as bigint) as stakeholders_engaged,
    s.first_engaged_at,
    s.last_engaged_at
from {{ ref('int_opportunities_unioned') }} as o
left join per_opportunity as s on s.opportunity_id = o.opportunity_id
where not o.is_deleted
