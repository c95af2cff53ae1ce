with latest as (
    {{ latest_version(source('salesforce', 'account'), 'id', 'system_modstamp') }}
)

select
    id as account_id,
    name as account_name,
    website,
    industry,
    segment_c as segment,
    region_c as region,
    billing_country,
    type as account_type,
    owner_id,
    cast(created_date as timestamp) as created_at
from latest
where not coalesce(is_deleted, false)
