{# Rep (opportunity owner, or the CRM user who answered for response times) x calendar month,
   over new-business deals (var('opportunity_type_roles').new_business):
   - pipeline created: opportunities created in the month, count and amount at creation (their
     first recorded state);
   - closed, won, win rate and won amount of the deals closed in the month; the mean cycle
     length (close - creation date, days) of those won;
   - verifier velocity of the month from verifier_velocity (all the rep's opportunities; empty
     unless var('velocity_period') is month, the default);
   - response time: buyer->rep pairs (int_email_responses) the rep answered by the as-of date,
     by the month of the buyer's message: count, median hours, share over 24 h;
   - engagement on the rep's new-business opportunities from opportunity_engagement, weeks
     counted in the month of their Monday: e-mails out and in, meetings held, and stakeholders
     engaged for the first time on the deal. #}
{%- set new_business = var('opportunity_type_roles')['new_business'] %}
with deals as (
    select opportunity_id, owner_id, created_at, close_date, is_closed, is_won, amount
    from {{ ref('fct_opportunity') }}
    where owner_id is not null
      and opportunity_type in ('{{ new_business | join("', '") }}')
),

created as (
    select
        d.owner_id,
        {{ trunc_date('month', 'd.created_at') }} as month_start,
        count(*) as opportunities_created,
        {{ exact_sum('s.amount') }} as pipeline_created_amount
    from deals as d
    left join {{ ref('int_opportunity_states') }} as s
        on s.opportunity_id = d.opportunity_id and s.state_number = 1
    group by 1, 2
),

closed as (
    select
        d.owner_id,
        {{ trunc_date('month', 'w.close_date') }} as month_start,
        count(*) as closed,
        count(case when w.is_won then 1 end) as won,
        {{ exact_sum('case when w.is_won then w.amount else 0 end') }} as won_amount,
        {{ exact_avg('case when w.is_won then w.cycle_days end') }} as avg_won_cycle_days
    from {{ ref('fct_win_loss') }} as w
    inner join deals as d on d.opportunity_id = w.opportunity_id
    group by 1, 2
),

{#- verifier_velocity's periods are months unless var('velocity_period') says otherwise #}
velocity as (
    select owner_id, period_start as month_start, verifiers_verified, verified_per_30_days, verifier_velocity
    from {{ ref('verifier_velocity') }}
    {%- if var('velocity_period') != 'month' %}
    where false
    {%- endif %}
),

responses as (
    select
        rep_user_id as owner_id,
        {{ trunc_date('month', 'sent_at') }} as month_start,
        count(*) as buyer_responses,
        percentile_cont(0.5) within group (order by response_hours) as response_median_hours,
        avg(case when response_hours > 24 then 1.0 else 0.0 end) as response_over_24h_share
    from {{ ref('int_email_responses') }}
    where direction = 'buyer_to_rep' and rep_user_id is not null and responded_at < {{ as_of_end() }}
    group by 1, 2
),

engagement as (
    select
        e.owner_id,
        {{ trunc_date('month', 'e.week_start') }} as month_start,
        sum(e.emails_outbound) as emails_outbound,
        sum(e.emails_inbound) as emails_inbound,
        sum(e.meetings_held) as meetings_held,
        sum(e.new_stakeholders) as stakeholders_engaged
    from {{ ref('opportunity_engagement') }} as e
    inner join deals as d on d.opportunity_id = e.opportunity_id
    group by 1, 2
),

keys as (
    select owner_id, month_start from created
    union
    select owner_id, month_start from closed
    union
    select owner_id, month_start from velocity
    union
    select owner_id, month_start from responses
    union
    select owner_id, month_start from engagement
)

select
    cast(k.owner_id as {{ dbt.type_string() }}) as owner_id,
    cast(u.user_name as {{ dbt.type_string() }}) as owner_name,
    cast(k.month_start as date) as month_start,
    cast(coalesce(c.opportunities_created, 0) as bigint) as opportunities_created,
    cast(coalesce(c.pipeline_created_amount, 0) as double precision) as pipeline_created_amount,
    cast(coalesce(x.closed, 0) as bigint) as closed,
    cast(coalesce(x.won, 0) as bigint) as won,
    {{ round_double('cast(x.won as double precision) / nullif(x.closed, 0)', 6) }} as win_rate,
    cast(coalesce(x.won_amount, 0) as double precision) as won_amount,
    {{ round_double('x.avg_won_cycle_days', 6) }} as avg_won_cycle_days,
    cast(coalesce(v.verifiers_verified, 0) as bigint) as verifiers_verified,
    {{ round_double('v.verified_per_30_days', 6) }} as verified_per_30_days,
    {{ round_double('v.verifier_velocity', 6) }} as verifier_velocity,
    cast(coalesce(r.buyer_responses, 0) as bigint) as buyer_responses,
    {{ round_double('r.response_median_hours', 6) }} as response_median_hours,
    {{ round_double('r.response_over_24h_share', 6) }} as response_over_24h_share,
    cast(coalesce(e.emails_outbound, 0) as bigint) as emails_outbound,
    cast(coalesce(e.emails_inbound, 0) as bigint) as emails_inbound,
    cast(coalesce(e.meetings_held, 0) as bigint) as meetings_held,
    cast(coalesce(e.stakeholders_engaged, 0) as bigint) as stakeholders_engaged
from keys as k
left join {{ ref('int_users_unioned') }} as u on u.user_id = k.owner_id
left join created as c on c.owner_id = k.owner_id and c.month_start = k.month_start
left join closed as x on x.owner_id = k.owner_id and x.month_start = k.month_start
left join velocity as v on v.owner_id = k.owner_id and v.month_start = k.month_start
left join responses as r on r.owner_id = k.owner_id and r.month_start = k.month_start
left join engagement as e on e.owner_id = k.owner_id and e.month_start = k.month_start
