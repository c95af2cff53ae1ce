with latest as (
    {{ latest_version(source('salesforce', 'opportunity_contact_role'), 'id', 'system_modstamp') }}
)

select
    id as contact_role_id,
    opportunity_id,
    contact_id,
    role as contact_role,
    coalesce(is_primary, false) as is_primary,
    cast(created_date as timestamp) as created_at
from latest
where not coalesce(is_deleted, false)
