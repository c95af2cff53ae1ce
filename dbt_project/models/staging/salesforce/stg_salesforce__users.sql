with latest as (
    {{ latest_version(source('salesforce', 'user'), 'id', 'system_modstamp') }}
)

select
    id as user_id,
    name as user_name,
    lower(email) as email,
    title,
    user_role_id,
    manager_id,
    coalesce(is_active, true) as is_active,
    segment_c as segment,
    region_c as region,
    cast(quota_amount_c as double precision) as quarterly_quota
from latest
where not coalesce(is_deleted, false)
