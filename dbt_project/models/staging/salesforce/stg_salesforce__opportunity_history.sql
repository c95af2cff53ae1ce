with latest as (
    {{ latest_version(source('salesforce', 'opportunity_history'), 'id', 'system_modstamp') }}
)

select
    id as opportunity_history_id,
    opportunity_id,
    stage_name,
    cast(amount as double precision) as amount,
    cast(close_date as date) as close_date,
    forecast_category,
    cast(created_date as timestamp) as changed_at
from latest
where not coalesce(is_deleted, false)
