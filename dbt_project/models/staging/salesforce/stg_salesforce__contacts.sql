with latest as (
    {{ latest_version(source('salesforce', 'contact'), 'id', 'system_modstamp') }}
)

select
    id as contact_id,
    account_id,
    name as contact_name,
    lower(trim(email)) as email,
    title,
    lead_source,
    nullif(master_record_id, '') as master_contact_id,
    cast(created_date as timestamp) as created_at
from latest
where not coalesce(is_deleted, false)
