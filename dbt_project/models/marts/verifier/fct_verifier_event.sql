{# One row per opportunity x verifier x status change, up to the run's as-of date. #}
with events as (
    select * from {{ ref('int_verifier_events_unioned') }}
    where event_at < cast('{{ var("as_of_date") }}' as date) + 1
),

catalogue as (
    select * from {{ ref('verifier_catalogue') }}
)

select
    {{ dbt.hash(dbt.concat(["e.opportunity_id", "'|'", "e.verifier_key", "'|'", "e.status", "'|'", "cast(e.event_at as varchar)"])) }} as verifier_event_id,
    e.opportunity_id,
    e.verifier_key,
    c.buying_job,
    c.buying_job_order,
    c.weight,
    e.status,
    e.event_at,
    e.recorded_in
from events as e
inner join catalogue as c on c.verifier_key = e.verifier_key
inner join {{ ref('stg_salesforce__opportunities') }} as o
    on o.opportunity_id = e.opportunity_id and not o.is_deleted
