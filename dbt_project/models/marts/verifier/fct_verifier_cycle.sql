{# One row per opportunity x verifier with a completed cycle: from the first 'started' event to
   the first 'verified' event at or after it; cycle_days = (verified - started) in days
   (seconds / 86400). Only verifiers whose CRM records 'started' (custom object rows) have
   cycles. The base of verifier_cycle_time and verifier_velocity. #}
with events as (
    select * from {{ ref('fct_verifier_event') }}
),

first_started as (
    select opportunity_id, verifier_key, min(event_at) as started_at
    from events
    where status = 'started'
    group by opportunity_id, verifier_key
),

first_verified as (
    select s.opportunity_id, s.verifier_key, s.started_at, min(e.event_at) as verified_at
    from first_started as s
    inner join events as e
        on e.opportunity_id = s.opportunity_id
        and e.verifier_key = s.verifier_key
        and e.status = 'verified'
        and e.event_at >= s.started_at
    group by s.opportunity_id, s.verifier_key, s.started_at
)

select
    cast({{ dbt.hash(dbt.concat(["v.opportunity_id", "'|'", "v.verifier_key"])) }} as {{ dbt.type_string() }}) as verifier_cycle_id,
    cast(v.opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
    cast(v.verifier_key as {{ dbt.type_string() }}) as verifier_key,
    cast(c.buying_job as {{ dbt.type_string() }}) as buying_job,
    cast(o.owner_id as {{ dbt.type_string() }}) as owner_id,
    cast(o.segment as {{ dbt.type_string() }}) as segment,
    cast(o.opportunity_type as {{ dbt.type_string() }}) as opportunity_type,
    cast(v.started_at as timestamp) as started_at,
    cast(v.verified_at as timestamp) as verified_at,
    cast(v.verified_at as date) as verified_date,
    {{ trunc_date('quarter', 'v.verified_at') }} as verified_quarter,
    cast({{ fractional_days_between('v.started_at', 'v.verified_at') }} as double precision) as cycle_days
from first_verified as v
inner join {{ ref('verifier_catalogue') }} as c on c.verifier_key = v.verifier_key
inner join {{ ref('fct_opportunity') }} as o on o.opportunity_id = v.opportunity_id
