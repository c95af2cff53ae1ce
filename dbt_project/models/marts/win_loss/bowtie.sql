{# The bowtie, per period (var('bowtie_period'), default quarter; the running period ends at the
   as-of date). Opportunity types play the roles in var('opportunity_type_roles').
   Left (acquisition):
   - leads_created, leads_converted (by conversion date); lead_to_opportunity_rate = of the leads
     created in the period, the share converted by the as-of date (cohort);
   - new-business opportunities created, won and lost (by close date), new_recurring_revenue =
     won amount; opportunity_to_won_rate = of those created in the period, the share won by the
     as-of date (cohort).
   Right (customers):
   - expansion deals won and their amount; renewals won and lost (a lost renewal is churn) and
     their amounts; logo_retention_rate = renewals won / renewals closed, gross_revenue_retention
     = renewed amount / closed renewal amount;
   - won_to_expansion_rate / won_to_churn_rate = of the new-business deals won in the period,
     the share whose account later got an expansion opportunity / lost a renewal (cohort);
   - customers_end and recurring_revenue_end at the period's last day: an account is a customer
     while its latest contract event (new business won, renewal won or lost) is a win; its
     recurring revenue is that contract's amount plus the expansions won after it (a renewal's
     amount is taken to include the expansions before it). #}
{%- set period = var('bowtie_period') %}
{%- set roles = var('opportunity_type_roles') %}
with opportunities as (
    select
        opportunity_id,
        account_id,
        cast(created_at as date) as created_date,
        close_date,
        is_closed,
        is_won,
        amount,
        case
            when opportunity_type in ('{{ roles.new_business | join("', '") }}') then 'new_business'
            when opportunity_type in ('{{ roles.expansion | join("', '") }}') then 'expansion'
            when opportunity_type in ('{{ roles.renewal | join("', '") }}') then 'renewal'
        end as role
    from {{ ref('fct_opportunity') }}
),

leads as (
    select
        cast(created_at as date) as created_date,
        case when is_converted and converted_date <= {{ as_of_date() }} then converted_date end as converted_date
    from {{ ref('stg_salesforce__leads') }}
    where created_at < {{ as_of_end() }}
),

periods as (
    select {{ trunc_date(period, 'date_day') }} as period_start, max(date_day) as period_end
    from {{ ref('metricflow_time_spine') }}
    where date_day <= {{ as_of_date() }}
      and date_day >= (
          select min(d) from (
              select min(created_date) as d from leads
              union all
              select min(created_date) as d from opportunities
          ) as starts
      )
    group by 1
),

lead_flows as (
    select period_start, sum(created) as leads_created, sum(converted) as leads_converted,
           sum(cohort_converted) as cohort_converted
    from (
        select {{ trunc_date(period, 'created_date') }} as period_start, 1 as created, 0 as converted,
               case when converted_date is not null then 1 else 0 end as cohort_converted
        from leads
        union all
        select {{ trunc_date(period, 'converted_date') }}, 0, 1, 0
        from leads
        where converted_date is not null
    ) as l
    group by period_start
),

created_flows as (
    select
        {{ trunc_date(period, 'created_date') }} as period_start,
        count(*) as opportunities_created,
        count(case when is_won then 1 end) as cohort_won
    from opportunities
    where role = 'new_business'
    group by 1
),

closed_flows as (
    select
        {{ trunc_date(period, 'close_date') }} as period_start,
        count(case when role = 'new_business' and is_won then 1 end) as opportunities_won,
        count(case when role = 'new_business' and not is_won then 1 end) as opportunities_lost,
        {{ exact_sum("case when role = 'new_business' and is_won then amount else 0 end") }} as new_recurring_revenue,
        count(case when role = 'expansion' and is_won then 1 end) as expansions_won,
        {{ exact_sum("case when role = 'expansion' and is_won then amount else 0 end") }} as expansion_revenue,
        count(case when role = 'renewal' and is_won then 1 end) as renewals_won,
        count(case when role = 'renewal' and not is_won then 1 end) as renewals_lost,
        {{ exact_sum("case when role = 'renewal' and is_won then amount else 0 end") }} as renewed_revenue,
        {{ exact_sum("case when role = 'renewal' and not is_won then amount else 0 end") }} as churned_revenue
    from opportunities
    where is_closed and role is not null
    group by 1
),

-- new-business wins and what followed on their account (by the as-of date)
won_cohorts as (
    select
        {{ trunc_date(period, 'w.close_date') }} as period_start,
        count(*) as won,
        count(case when exists (
            select 1 from opportunities as x
            where x.account_id = w.account_id and x.role = 'expansion' and x.created_date > w.close_date
        ) then 1 end) as expanded,
        count(case when exists (
            select 1 from opportunities as x
            where x.account_id = w.account_id and x.role = 'renewal' and x.is_closed
              and not x.is_won and x.close_date > w.close_date
        ) then 1 end) as churned
    from opportunities as w
    where w.role = 'new_business' and w.is_won
    group by 1
),

contract_events as (
    select opportunity_id, account_id, close_date, amount, is_won
    from opportunities
    where (role = 'new_business' and is_won) or (role = 'renewal' and is_closed)
),

latest_contract as (
    select * from (
        select
            p.period_start,
            p.period_end,
            c.account_id,
            c.close_date,
            c.amount,
            c.is_won,
            row_number() over (
                partition by p.period_start, c.account_id
                order by c.close_date desc, {{ binary_text('c.opportunity_id') }} desc
            ) as recency
        from periods as p
        inner join contract_events as c on c.close_date <= p.period_end
    ) ranked
    where recency = 1 and is_won
),

customers as (
    select
        l.period_start,
        count(*) as customers_end,
        {{ exact_sum('coalesce(l.amount, 0) + coalesce(x.expansion_amount, 0)') }} as recurring_revenue_end
    from latest_contract as l
    left join (
        select l2.period_start, l2.account_id, {{ exact_sum('e.amount') }} as expansion_amount
        from latest_contract as l2
        inner join opportunities as e
            on e.account_id = l2.account_id and e.role = 'expansion' and e.is_won
            and e.close_date > l2.close_date and e.close_date <= l2.period_end
        group by l2.period_start, l2.account_id
    ) as x on x.period_start = l.period_start and x.account_id = l.account_id
    group by l.period_start
)

select
    cast(p.period_start as date) as period_start,
    cast(p.period_end as date) as period_end,
    cast(coalesce(lf.leads_created, 0) as bigint) as leads_created,
    cast(coalesce(lf.leads_converted, 0) as bigint) as leads_converted,
    {{ round_double('cast(lf.cohort_converted as double precision) / nullif(lf.leads_created, 0)', 6) }} as lead_to_opportunity_rate,
    cast(coalesce(cf.opportunities_created, 0) as bigint) as opportunities_created,
    cast(coalesce(xf.opportunities_won, 0) as bigint) as opportunities_won,
    cast(coalesce(xf.opportunities_lost, 0) as bigint) as opportunities_lost,
    {{ round_double('cast(cf.cohort_won as double precision) / nullif(cf.opportunities_created, 0)', 6) }} as opportunity_to_won_rate,
    cast(coalesce(xf.new_recurring_revenue, 0) as double precision) as new_recurring_revenue,
    cast(coalesce(xf.expansions_won, 0) as bigint) as expansions_won,
    cast(coalesce(xf.expansion_revenue, 0) as double precision) as expansion_revenue,
    cast(coalesce(xf.renewals_won, 0) as bigint) as renewals_won,
    cast(coalesce(xf.renewals_lost, 0) as bigint) as renewals_lost,
    cast(coalesce(xf.renewed_revenue, 0) as double precision) as renewed_revenue,
    cast(coalesce(xf.churned_revenue, 0) as double precision) as churned_revenue,
    {{ round_double('cast(xf.renewals_won as double precision) / nullif(xf.renewals_won + xf.renewals_lost, 0)', 6) }} as logo_retention_rate,
    {{ round_double('xf.renewed_revenue / nullif(xf.renewed_revenue + xf.churned_revenue, 0)', 6) }} as gross_revenue_retention,
    cast(coalesce(wc.won, 0) as bigint) as won_cohort,
    cast(coalesce(wc.expanded, 0) as bigint) as won_cohort_expanded,
    cast(coalesce(wc.churned, 0) as bigint) as won_cohort_churned,
    {{ round_double('cast(wc.expanded as double precision) / nullif(wc.won, 0)', 6) }} as won_to_expansion_rate,
    {{ round_double('cast(wc.churned as double precision) / nullif(wc.won, 0)', 6) }} as won_to_churn_rate,
    cast(coalesce(c.customers_end, 0) as bigint) as customers_end,
    cast(coalesce(c.recurring_revenue_end, 0) as double precision) as recurring_revenue_end
from periods as p
left join lead_flows as lf on lf.period_start = p.period_start
left join created_flows as cf on cf.period_start = p.period_start
left join closed_flows as xf on xf.period_start = p.period_start
left join won_cohorts as wc on wc.period_start = p.period_start
left join customers as c on c.period_start = p.period_start
