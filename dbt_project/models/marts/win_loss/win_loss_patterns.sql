{# Quarter (of the close date) x rule: closed new-business deals the rule selects (n), wins, win
   rate, the base rate (win rate of all closed new-business deals of the quarter), lift = win
   rate / base rate, the Wilson 95% interval of the win rate and whether it excludes the base
   rate. Rows with quarter = 'all' pool every quarter (the planted effects need that many deals).
   The rules are rows of the win_loss_rules seed, evaluated here by one generic evaluator: a
   deal's value of the rule's field (macro win_loss_rule_fields) tested with the rule's
   operator; an `each` rule is one rule per value the field takes. Every rule has a row for
   every quarter with closed deals (n = 0 when it selects none). "New business" is
   var('opportunity_type_roles').new_business. #}
{%- set fields = win_loss_rule_fields() %}
{%- set new_business = var('opportunity_type_roles')['new_business'] %}
with deals as (
    select *
    from {{ ref('fct_win_loss') }}
    where opportunity_type in ('{{ new_business | join("', '") }}')
),

rules as (
    select rule_key, description, field, operator, value, upper_value
    from {{ ref('win_loss_rules') }}
),

-- each deal's value of each rule's field (a set-valued field: one row per element)
field_values as (
    select
        r.rule_key,
        d.opportunity_id,
        d.close_quarter,
        d.close_quarter_start,
        d.is_won,
        case r.field
            {%- for f in fields.text %}
            when '{{ f }}' then cast(d.{{ f }} as {{ dbt.type_string() }})
            {%- endfor %}
        end as value_text,
        case r.field
            {%- for f in fields.number %}
            when '{{ f }}' then cast(d.{{ f }} as double precision)
            {%- endfor %}
        end as value_number
    from deals as d
    cross join rules as r
    where r.field not in ('{{ fields.verifier | join("', '") }}')

    union all

    select
        r.rule_key,
        d.opportunity_id,
        d.close_quarter,
        d.close_quarter_start,
        d.is_won,
        v.verifier_key as value_text,
        cast(null as double precision) as value_number
    from deals as d
    inner join {{ ref('fct_win_loss_verifier') }} as v on v.opportunity_id = d.opportunity_id
    cross join rules as r
    where r.field = 'verifier_not_verified_at_close' and not v.is_verified_at_close
),

matches as (
    select
        f.rule_key,
        case when r.operator = 'each' then f.value_text end as rule_value,
        f.opportunity_id,
        f.close_quarter,
        f.is_won
    from field_values as f
    inner join rules as r on r.rule_key = f.rule_key
    where case r.operator
        when 'each' then f.value_text is not null
        when '=' then f.value_text = r.value
        when '!=' then f.value_text <> r.value
        when '<' then f.value_number < cast(r.value as double precision)
        when '<=' then f.value_number <= cast(r.value as double precision)
        when '>' then f.value_number > cast(r.value as double precision)
        when '>=' then f.value_number >= cast(r.value as double precision)
        when 'between' then f.value_number between cast(r.value as double precision)
                                               and cast(r.upper_value as double precision)
    end
),

quarters as (
    select distinct close_quarter as quarter, close_quarter_start as quarter_start from deals
    union all
    select 'all' as quarter, cast(null as date) as quarter_start
),

base as (
    select
        case when grouping(close_quarter) = 1 then 'all' else close_quarter end as quarter,
        count(*) as closed,
        count(case when is_won then 1 end) as won
    from deals
    group by grouping sets ((close_quarter), ())
),

-- every rule: the seed's fixed rules and one per value of each `each` rule
rule_ids as (
    select rule_key, cast(null as {{ dbt.type_string() }}) as rule_value
    from rules
    where operator <> 'each'
    union
    select rule_key, rule_value from matches where rule_value is not null
),

counts as (
    select
        rule_key,
        rule_value,
        case when grouping(close_quarter) = 1 then 'all' else close_quarter end as quarter,
        count(*) as closed,
        count(case when is_won then 1 end) as won
    from matches
    group by grouping sets ((rule_key, rule_value, close_quarter), (rule_key, rule_value))
),

grid as (
    select
        q.quarter,
        q.quarter_start,
        i.rule_key,
        i.rule_value,
        coalesce(c.closed, 0) as closed,
        coalesce(c.won, 0) as won,
        b.closed as base_closed,
        b.won as base_won
    from rule_ids as i
    cross join quarters as q
    inner join base as b on b.quarter = q.quarter
    left join counts as c
        on c.rule_key = i.rule_key
        and c.quarter = q.quarter
        and coalesce(c.rule_value, '') = coalesce(i.rule_value, '')
),

rates as (
    select
        g.*,
        case when g.closed > 0 then cast(g.won as double precision) / g.closed end as win_rate,
        cast(g.base_won as double precision) / g.base_closed as base_rate,
        {{ wilson_lower('g.won', 'g.closed') }} as wilson_lower,
        {{ wilson_upper('g.won', 'g.closed') }} as wilson_upper
    from grid as g
)

select
    cast(r.quarter as {{ dbt.type_string() }}) as quarter,
    cast(r.quarter_start as date) as quarter_start,
    cast(case when r.rule_value is null then r.rule_key
              else {{ dbt.concat(["r.rule_key", "':'", "r.rule_value"]) }} end
         as {{ dbt.type_string() }}) as rule_id,
    cast(r.rule_key as {{ dbt.type_string() }}) as rule_key,
    cast(r.rule_value as {{ dbt.type_string() }}) as rule_value,
    cast(s.description as {{ dbt.type_string() }}) as description,
    cast(s.field as {{ dbt.type_string() }}) as field,
    cast(s.operator as {{ dbt.type_string() }}) as operator,
    cast(r.closed as bigint) as closed,
    cast(r.won as bigint) as won,
    {{ round_double('r.win_rate', 6) }} as win_rate,
    cast(r.base_closed as bigint) as base_closed,
    cast(r.base_won as bigint) as base_won,
    {{ round_double('r.base_rate', 6) }} as base_rate,
    {{ round_double('cast(r.closed as double precision) / r.base_closed', 6) }} as share_of_closed,
    {{ round_double('r.win_rate / nullif(r.base_rate, 0)', 6) }} as lift,
    {{ round_double('r.win_rate - r.base_rate', 6) }} as win_rate_difference,
    {{ round_double('r.wilson_lower', 6) }} as wilson_lower,
    {{ round_double('r.wilson_upper', 6) }} as wilson_upper,
    cast(coalesce(r.base_rate < r.wilson_lower or r.base_rate > r.wilson_upper, false) as boolean) as interval_excludes_base_rate
from rates as r
inner join rules as s on s.rule_key = r.rule_key
