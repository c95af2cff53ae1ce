{# One row per (activity matched to an opportunity, stakeholder among its participants), up to
   the as-of date (a future meeting occurrence has not engaged anyone yet). A stakeholder is a
   participant address that is the address (as activity stores it) of a contact record
   (deleted or merged ones too) of the opportunity's account: internal, partner and unknown
   addresses never are. Incremental
   (macros/activity_window.sql): the touches of the window's activity again. #}
{{ config(materialized='incremental', incremental_strategy='activity_window',
          schema=var('state_schema'),
          window_column='occurred_at', on_schema_change='fail') }}
with opportunity_accounts as (
    select opportunity_id, account_id from {{ ref('fct_opportunity') }}
),

account_addresses as (
    select distinct account_id, activity_address
    from {{ ref('int_activity_contact_addresses') }}
    where account_id is not null
)

select
    m.opportunity_id,
    p.address,
    m.activity_id,
    a.activity_type,
    a.occurred_at
from {{ ref('int_activity_matches') }} as m
inner join {{ ref('int_activities') }} as a on a.activity_id = m.activity_id
inner join {{ ref('int_activity_participants') }} as p on p.activity_id = m.activity_id
inner join opportunity_accounts as o on o.opportunity_id = m.opportunity_id
inner join account_addresses as c on c.account_id = o.account_id and c.activity_address = p.address
where not p.is_internal
  and a.occurred_at < {{ as_of_end() }}
  {{- activity_window_filter('a.occurred_at', 'and') }}
  {{- activity_window_filter('m.occurred_at', 'and') }}
  {{- activity_window_filter('p.occurred_at', 'and') }}
{{ activity_window_order() }}
