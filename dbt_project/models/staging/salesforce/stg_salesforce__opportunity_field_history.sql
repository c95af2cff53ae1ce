with latest as (
    {{ latest_version(source('salesforce', 'opportunity_field_history'), 'id', 'created_date') }}
)

select
    id as field_history_id,
    opportunity_id,
    lower(field) as field_name,
    nullif(old_value, '') as old_value,
    nullif(new_value, '') as new_value,
    cast(created_date as timestamp) as changed_at
from latest
where not coalesce(is_deleted, false)
