with latest as (
    {{ latest_version(source('salesforce', 'lead'), 'id', 'system_modstamp') }}
)

select
    id as lead_id,
    lead_source,
    status as lead_status,
    coalesce(is_converted, false) as is_converted,
    cast(converted_date as date) as converted_date,
    converted_account_id,
    converted_opportunity_id,
    owner_id,
    cast(created_date as timestamp) as created_at
from latest
where not coalesce(is_deleted, false)
