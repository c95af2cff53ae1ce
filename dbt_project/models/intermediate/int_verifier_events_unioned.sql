{# Every verifier status change, wherever the CRM records it (DESIGN §4): rows of the custom
   object, or changes of an opportunity date field named in the verifier catalogue (set =
   verified on that date, cleared = regressed). #}
with catalogue as (
    select * from {{ ref('verifier_catalogue') }}
),

from_object as (
    select
        s.opportunity_id,
        s.verifier_key,
        s.status,
        s.status_at as event_at,
        'object' as recorded_in
    from {{ ref('stg_salesforce__verifier_statuses') }} as s
    inner join catalogue as c
        on c.verifier_key = s.verifier_key and c.crm_source = 'object'
),

from_field as (
    select
        h.opportunity_id,
        c.verifier_key,
        case when h.new_value is null then 'regressed' else 'verified' end as status,
        coalesce({{ safe_cast_timestamp("h.new_value") }}, h.changed_at) as event_at,
        'field' as recorded_in
    from {{ ref('stg_salesforce__opportunity_field_history') }} as h
    inner join catalogue as c
        on c.crm_source = 'field' and h.field_name = lower(c.crm_field)
)

select * from from_object
union all
select * from from_field
