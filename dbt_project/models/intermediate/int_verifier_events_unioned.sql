{# Every verifier status change, wherever the CRM records it (DESIGN §4), for the verifiers in
   the catalogue seed:
   - crm_source = object: rows of the custom object (status at its status date);
   - crm_source = field: changes of the opportunity date field named in `crm_field`, from field
     history: a value set = verified, a value cleared = regressed, both at the instant of the
     change (the field-history row's created_date; the date value itself is what the rep typed).
   'started' is only visible for object verifiers. `source_record_id` orders events of the same
   instant deterministically. #}
with catalogue as (
    select verifier_key, crm_source, lower(crm_field) as crm_field
    from {{ ref('verifier_catalogue') }}
),

from_object as (
    select
        s.opportunity_id,
        s.verifier_key,
        s.status,
        s.status_at as event_at,
        'object' as recorded_in,
        s.verifier_status_id as source_record_id
    from {{ ref('stg_salesforce__verifier_statuses') }} as s
    inner join catalogue as c
        on c.verifier_key = s.verifier_key and c.crm_source = 'object'
    where s.status_at is not null
),

from_field as (
    select
        h.opportunity_id,
        c.verifier_key,
        case when h.new_value is null then 'regressed' else 'verified' end as status,
        h.changed_at as event_at,
        'field' as recorded_in,
        h.field_history_id as source_record_id
    from {{ ref('stg_salesforce__opportunity_field_history') }} as h
    inner join catalogue as c
        on c.crm_source = 'field' and h.field_name = c.crm_field
    where h.changed_at is not null
)

select * from from_object
union all
select * from from_field
