{# One row per closed opportunity x catalogue verifier: the verifier's status at close = its
   latest CRM-visible status change on or before the close date ('none' without one). The base of
   the "verifier v not verified at close" rules of win_loss_patterns and of the verifier score at
   close in fct_win_loss. #}
with closed as (
    select opportunity_id, close_date
    from {{ ref('fct_opportunity') }}
    where is_closed
),

latest_at_close as (
    select opportunity_id, verifier_key, status, event_at
    from (
        select
            e.opportunity_id,
            e.verifier_key,
            e.status,
            e.event_at,
            row_number() over (
                partition by e.opportunity_id, e.verifier_key order by e.event_sequence desc
            ) as rank_from_close
        from {{ ref('fct_verifier_event') }} as e
        inner join closed as c on c.opportunity_id = e.opportunity_id
        where e.event_date <= c.close_date
    ) ranked
    where rank_from_close = 1
)

select
    cast({{ dbt.hash(dbt.concat(["c.opportunity_id", "'|'", "v.verifier_key"])) }} as {{ dbt.type_string() }}) as win_loss_verifier_id,
    cast(c.opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
    cast(v.verifier_key as {{ dbt.type_string() }}) as verifier_key,
    cast(v.buying_job as {{ dbt.type_string() }}) as buying_job,
    cast(v.weight as double precision) as weight,
    cast(coalesce(l.status, 'none') as {{ dbt.type_string() }}) as status_at_close,
    cast(coalesce(l.status = 'verified', false) as boolean) as is_verified_at_close,
    cast(l.event_at as timestamp) as status_since
from closed as c
cross join {{ ref('verifier_catalogue') }} as v
left join latest_at_close as l
    on l.opportunity_id = c.opportunity_id and l.verifier_key = v.verifier_key
