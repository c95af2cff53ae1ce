{# One row per (meeting occurrence, address) among the attendees of the copy that
   stg_activity__meetings keeps, whatever their PARTSTAT. #}
with attendees as (
    select
        a.meeting_id,
        a.address,
        lower(a.domain) as domain,
        coalesce(a.address_is_hashed, false) as address_is_hashed,
        upper(a.partstat) as partstat,
        upper(a.role) as attendee_role,
        coalesce(a.is_organizer, false) as is_organizer,
        row_number() over (
            partition by a.meeting_id, a.address
            order by case when a.is_organizer then 0 else 1 end, a.partstat, a.role
        ) as address_rank
    from {{ source('activity', 'activity_meeting_attendee') }} as a
    inner join {{ ref('stg_activity__meetings') }} as k
        on k.meeting_id = a.meeting_id and k.calendar = a.calendar and k.batch_id = a._batch_id
    where a.address is not null and a.address <> ''
)

select
    meeting_id,
    address,
    domain,
    {{ activity_is_internal('domain') }} as is_internal,
    address_is_hashed,
    partstat,
    attendee_role,
    is_organizer
from attendees
where address_rank = 1
