{# The opportunities activity can match (not deleted, created by the as-of date) with their state
   intervals (int_opportunity_states) and who owns them, as one table: matching, fct_activity and
   opportunity_engagement join it by day, which PostgreSQL plans badly through the stacked views. #}
{{ config(materialized='table') }}
-- both sides computed once (PostgreSQL would otherwise re-plan the state view per opportunity)
with opportunities as materialized (
    select opportunity_id, account_id, owner_id, created_at
    from {{ ref('int_opportunities_unioned') }}
    where not is_deleted and created_at < {{ as_of_end() }}
),

states as materialized (
    select * from {{ ref('int_opportunity_states') }}
)

select
    o.opportunity_id,
    o.account_id,
    o.owner_id,
    o.created_at,
    s.state_number,
    s.valid_from,
    s.valid_to,
    s.stage_name,
    s.stage_order,
    s.is_closed,
    s.previous_is_closed,
    s.close_date
from opportunities as o
inner join states as s on s.opportunity_id = o.opportunity_id
