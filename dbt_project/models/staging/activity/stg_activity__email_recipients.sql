{# One row per (message, address) among the To and Cc of the message copy that
   stg_activity__emails keeps; an address in both To and Cc counts once, as To. #}
with recipients as (
    select
        r.message_id,
        r.address,
        lower(r.domain) as domain,
        coalesce(r.address_is_hashed, false) as address_is_hashed,
        lower(r.kind) as recipient_kind,
        r.position,
        row_number() over (
            partition by r.message_id, r.address
            order by case when lower(r.kind) = 'to' then 0 else 1 end, r.position
        ) as address_rank
    from {{ source('activity', 'activity_email_recipient') }} as r
    inner join {{ ref('stg_activity__emails') }} as k
        on k.message_id = r.message_id and k.origin = r.origin and k.batch_id = r._batch_id
    where r.address is not null and r.address <> ''
)

select
    message_id,
    address,
    domain,
    {{ activity_is_internal('domain') }} as is_internal,
    address_is_hashed,
    recipient_kind,
    position
from recipients
where address_rank = 1
