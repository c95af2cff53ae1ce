{# One row per opportunity x verifier x status change (started, verified, regressed), known at
   the run's as-of date, for opportunities that exist (not deleted). `event_sequence` numbers an
   opportunity's changes of one verifier in time order; `previous_status` is the status before. #}
with opportunities as (
    select opportunity_id
    from {{ ref('int_opportunities_unioned') }}
    where not is_deleted and created_at < {{ as_of_end() }}
),

events as (
    select e.*
    from {{ ref('int_verifier_events_unioned') }} as e
    inner join opportunities as o on o.opportunity_id = e.opportunity_id
    where e.event_at < {{ as_of_end() }}
),

sequenced as (
    select
        e.*,
        row_number() over (
            partition by e.opportunity_id, e.verifier_key
            order by e.event_at, {{ binary_text('e.source_record_id') }}
        ) as event_sequence
    from events as e
),

with_previous as (
    select
        s.*,
        lag(s.status) over (
            partition by s.opportunity_id, s.verifier_key order by s.event_sequence
        ) as previous_status
    from sequenced as s
)

select
    cast({{ dbt.hash(dbt.concat(["e.recorded_in", "'|'", "e.source_record_id"])) }} as {{ dbt.type_string() }}) as verifier_event_id,
    cast(e.opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
    cast(e.verifier_key as {{ dbt.type_string() }}) as verifier_key,
    cast(c.name as {{ dbt.type_string() }}) as verifier_name,
    cast(c.buying_job as {{ dbt.type_string() }}) as buying_job,
    cast(c.buying_job_order as bigint) as buying_job_order,
    cast(c.weight as double precision) as weight,
    cast(e.status as {{ dbt.type_string() }}) as status,
    cast(e.previous_status as {{ dbt.type_string() }}) as previous_status,
    cast(e.event_at as timestamp) as event_at,
    cast(e.event_at as date) as event_date,
    cast(e.event_sequence as bigint) as event_sequence,
    cast(e.recorded_in as {{ dbt.type_string() }}) as recorded_in,
    cast(e.source_record_id as {{ dbt.type_string() }}) as source_record_id
from with_previous as e
inner join {{ ref('verifier_catalogue') }} as c on c.verifier_key = e.verifier_key
