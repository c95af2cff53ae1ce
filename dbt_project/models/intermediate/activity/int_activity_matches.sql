{# Each activity's opportunity and account (DESIGN §5 "Activity"), in this order:
   1. contact_role: an external participant's address is a contact's (exact, any record of it),
      and that contact is in the buying group (contact roles) of an opportunity that is open on
      the activity's day (open that day, or closing on it); among several such opportunities the
      one with the most participants in its buying group wins, then the one whose close date (as
      the CRM had it that day) is nearest, then the smallest id;
   2. contact_account: otherwise the account of the participants' contacts (buyers before
      partners, then the account with most participants);
   3. email_domain: otherwise the account whose domain the participants' addresses have
      (int_account_domains: free-mail and partner domains never match);
   4. unmatched: kept, with neither.
   Days after the as-of date (future meeting occurrences) look at the opportunity as of that
   date. Incremental (macros/activity_window.sql): the activity of the window is matched again
   (to the CRM as it is now); earlier activity keeps its match. #}
{{ config(materialized='incremental', incremental_strategy='activity_window',
          schema=var('state_schema'),
          window_column='occurred_at', unique_key='activity_id', on_schema_change='fail') }}
with activities as (
    select
        activity_id,
        occurred_at,
        least(cast(occurred_at as date), {{ as_of_date() }}) as state_day
    from {{ ref('int_activities') }} {{- activity_window_filter('occurred_at') }}
),

external_participants as (
    select activity_id, address, domain, address_class
    from {{ ref('int_activity_participants') }}
    where address_class <> 'internal' {{- activity_window_filter('occurred_at', 'and') }}
),

contact_hits as (
    select distinct
        p.activity_id,
        p.address,
        p.address_class,
        c.account_id
    from external_participants as p
    inner join {{ ref('int_activity_contact_addresses') }} as c on c.activity_address = p.address
),

-- an address's contact records and the records they were merged into
address_contacts as (
    select activity_address, contact_id from {{ ref('int_activity_contact_addresses') }}
    union
    select activity_address, surviving_contact_id from {{ ref('int_activity_contact_addresses') }}
),

role_hits as (
    select distinct p.activity_id, r.opportunity_id, p.address
    from external_participants as p
    inner join address_contacts as c on c.activity_address = p.address
    inner join {{ ref('int_activity_contact_roles') }} as r on r.contact_id = c.contact_id
),

candidates as (
    select
        r.activity_id,
        r.opportunity_id,
        a.state_day,
        count(distinct r.address) as role_participants
    from role_hits as r
    inner join activities as a on a.activity_id = r.activity_id
    group by r.activity_id, r.opportunity_id, a.state_day
),

open_candidates as (
    -- open that day = a row of fct_opportunity_daily (every open day and the closing day), with
    -- the close date the CRM had that day
    select
        c.activity_id,
        c.opportunity_id,
        o.account_id,
        c.role_participants,
        abs({{ days_between('c.state_day', 'd.close_date') }}) as close_distance_days
    from candidates as c
    inner join {{ ref('fct_opportunity_daily') }} as d
        on d.opportunity_id = c.opportunity_id and d.snapshot_date = c.state_day
    inner join {{ ref('fct_opportunity') }} as o on o.opportunity_id = c.opportunity_id
),

ranked_opportunities as (
    select
        oc.*,
        count(*) over (partition by oc.activity_id) as open_candidates,
        count(*) over (partition by oc.activity_id, oc.role_participants) as tied_on_participants,
        row_number() over (
            partition by oc.activity_id
            order by oc.role_participants desc, oc.close_distance_days asc nulls last,
                     {{ binary_text('oc.opportunity_id') }}
        ) as opportunity_rank
    from open_candidates as oc
),

chosen_opportunity as (
    select
        activity_id,
        opportunity_id,
        account_id,
        open_candidates,
        case
            when open_candidates = 1 then 'only_candidate'
            when tied_on_participants = 1 then 'contact_role_participants'
            else 'nearest_close_date'
        end as decided_by
    from ranked_opportunities
    where opportunity_rank = 1
),

contact_accounts as (
    select * from (
        select
            activity_id,
            account_id,
            row_number() over (
                partition by activity_id
                order by min(case when address_class = 'partner' then 1 else 0 end),
                         count(distinct address) desc, {{ binary_text('account_id') }}
            ) as account_rank
        from contact_hits
        where account_id is not null
        group by activity_id, account_id
    ) ranked
    where account_rank = 1
),

domain_accounts as (
    select * from (
        select
            p.activity_id,
            d.account_id,
            row_number() over (
                partition by p.activity_id
                order by count(distinct p.address) desc, {{ binary_text('d.account_id') }}
            ) as account_rank
        from external_participants as p
        inner join {{ ref('int_account_domains') }} as d on d.domain = p.domain
        where p.address_class = 'external'
        group by p.activity_id, d.account_id
    ) ranked
    where account_rank = 1
)

select
    a.activity_id,
    o.opportunity_id,
    coalesce(o.account_id, ca.account_id, da.account_id) as account_id,
    case
        when o.opportunity_id is not null then 'contact_role'
        when ca.account_id is not null then 'contact_account'
        when da.account_id is not null then 'email_domain'
        else 'unmatched'
    end as match_method,
    o.decided_by,
    coalesce(o.open_candidates, 0) as open_candidates,
    a.occurred_at
from activities as a
left join chosen_opportunity as o on o.activity_id = a.activity_id
left join contact_accounts as ca on ca.activity_id = a.activity_id
left join domain_accounts as da on da.activity_id = a.activity_id
{{ activity_window_order() }}
