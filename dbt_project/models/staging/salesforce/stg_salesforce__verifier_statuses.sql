with latest as (
    {{ latest_version(source('salesforce', 'verifier_status_c'), 'id', 'system_modstamp') }}
)

select
    id as verifier_status_id,
    opportunity_c as opportunity_id,
    verifier_key_c as verifier_key,
    lower(status_c) as status,
    cast(status_date_c as timestamp) as status_at
from latest
where not coalesce(is_deleted, false)
