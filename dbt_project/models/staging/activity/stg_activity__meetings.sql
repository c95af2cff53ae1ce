{# One row per meeting occurrence (meeting_id = UID, or UID/RECURRENCE-ID for an occurrence of a
   recurring event): the copy from the latest batch with the highest SEQUENCE (the latest
   revision), preferring the organizer's own calendar. Deletions reported by an API stay as
   is_deleted. #}
with latest as (
    {{ activity_latest_copy(source('activity', 'activity_meeting'), 'meeting_id',
        'sequence desc nulls last, case when calendar = organizer then 0 else 1 end, calendar, origin') }}
)

select
    meeting_id,
    uid,
    recurrence_id,
    cast(starts_at as timestamp) as starts_at,
    cast(ends_at as timestamp) as ends_at,
    coalesce(is_all_day, false) as is_all_day,
    upper(coalesce(status, 'CONFIRMED')) as status,
    upper(coalesce(status, 'CONFIRMED')) = 'CANCELLED' as is_cancelled,
    nullif(organizer, '') as organizer,
    lower(organizer_domain) as organizer_domain,
    {{ activity_is_internal('lower(organizer_domain)') }} as is_internal_organizer,
    coalesce(organizer_is_hashed, false) as organizer_is_hashed,
    coalesce(is_recurring, false) as is_recurring,
    sequence,
    summary,
    subject_mode,
    timezone,
    calendar,
    origin,
    coalesce(is_deleted, false) as is_deleted,
    _batch_id as batch_id
from latest
