{#- One row per (meeting occurrence, address) among the attendees of the copy that
    stg_activity__meetings keeps, whatever their PARTSTAT. Incremental
    (macros/activity_window.sql): the occurrences starting in the window again. -#}
{{ config(materialized='incremental', incremental_strategy='activity_window',
          activity_window='landed', schema=var('state_schema'),
          window_column='starts_at', unique_key='meeting_id', on_schema_change='fail') }}
{%- set relation = source('activity', 'activity_meeting_attendee') -%}
{%- set columns = [
    ('meeting_id', dbt.type_string(), ['meeting_id']),
    ('address', dbt.type_string(), ['address']),
    ('domain', dbt.type_string(), ['domain']),
    ('address_is_hashed', 'boolean', ['address_is_hashed']),
    ('partstat', dbt.type_string(), ['partstat']),
    ('role', dbt.type_string(), ['role']),
    ('is_organizer', 'boolean', ['is_organizer']),
    ('calendar', dbt.type_string(), ['calendar']),
    ('_batch_id', dbt.type_string(), ['_batch_id'])
] -%}
{%- set present = present_columns(relation) %}
with fields as (
    {{ select_source_columns(relation, columns, present) }}
),

attendees as (
    select
        a.meeting_id,
        a.address,
        lower(a.domain) as domain,
        coalesce(a.address_is_hashed, false) as address_is_hashed,
        upper(a.partstat) as partstat,
        upper(a.role) as attendee_role,
        coalesce(a.is_organizer, false) as is_organizer,
        k.starts_at,
        row_number() over (
            partition by a.meeting_id, a.address
            order by case when a.is_organizer then 0 else 1 end, a.partstat, a.role
        ) as address_rank
    from fields as a
    inner join {{ ref('stg_activity__meetings') }} as k
        on k.meeting_id = a.meeting_id and k.calendar = a.calendar and k.batch_id = a._batch_id
    where a.address is not null and a.address <> ''
    {{- activity_window_filter('k.starts_at', 'and') }}
)

select
    meeting_id,
    address,
    domain,
    {{ activity_is_internal('domain') }} as is_internal,
    address_is_hashed,
    partstat,
    attendee_role,
    is_organizer,
    starts_at
from attendees
where address_rank = 1
{{ activity_window_order() }}
