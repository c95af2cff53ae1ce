{# One row per message (Message-ID): the copy from the latest batch, the first mailbox of it.
   Addresses arrive normalised by the readers; internal senders are recognised again here from
   the domain (var company_domains), so a changed company domain list applies to old rows too. #}
with latest as (
    {{ activity_latest_copy(source('activity', 'activity_email'), 'message_id', 'mailbox, origin') }}
)

select
    message_id,
    nullif(in_reply_to, '') as in_reply_to_id,
    nullif(split_part(coalesce({{ adapter.quote('references') }}, ''), ' ', 1), '') as first_reference_id,
    cast(sent_at as timestamp) as sent_at,
    nullif(from_address, '') as from_address,
    lower(from_domain) as from_domain,
    {{ activity_is_internal('lower(from_domain)') }} as is_internal_sender,
    coalesce(from_is_hashed, false) as from_is_hashed,
    subject,
    subject_mode,
    mailbox,
    origin,
    _batch_id as batch_id
from latest
