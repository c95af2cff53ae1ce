{# One row per opportunity (deleted ones left out): the distinct external stakeholders engaged
   (int_opportunity_stakeholder_touches) and when the first and the last was engaged. #}
{{ config(materialized='table') }}
with per_opportunity as (
    select
        opportunity_id,
        count(distinct address) as stakeholders_engaged,
        min(occurred_at) as first_engaged_at,
        max(occurred_at) as last_engaged_at
    from {{ ref('int_opportunity_stakeholder_touches') }}
    group by opportunity_id
)

select
    o.opportunity_id,
    cast(coalesce(s.stakeholders_engaged, 0) as bigint) as stakeholders_engaged,
    s.first_engaged_at,
    s.last_engaged_at
from {{ ref('int_opportunities_unioned') }} as o
left join per_opportunity as s on s.opportunity_id = o.opportunity_id
where not o.is_deleted
