{# The window the incremental activity models recompute (macros/activity_window.sql), one row:
   from the as-of date minus var('activity_lookback_days') (CRM changes and the move of today
   reach that far back), or from the earliest e-mail or meeting landed since the version the
   models continue from, when that is earlier (var('activity_changed_since'): that version's
   build time, set by revwh; a re-extracted quarter is recomputed in full). The lookback counts
   from that version's as-of date (var('continued_as_of')) when it is earlier: after a gap, the
   activity that was in its future is recomputed.
   `landed_start`: the window of the models that read nothing but the landed activity (config
   activity_window='landed': staging, threads, int_activities, int_activity_participants): from
   the earliest e-mail or meeting landed since that version; null when none has (they recompute
   nothing). Without that version's build time, the whole window. #}
{{ config(materialized='table') }}
{%- set since = var('activity_changed_since', none) -%}
{%- set continued_as_of = var('continued_as_of', none) -%}
{%- set lookback_from = "least(" ~ as_of_date() ~ ", cast('" ~ continued_as_of ~ "' as date))"
                        if continued_as_of else as_of_date() -%}
{%- set landed_sources = [
    (source('activity', 'activity_email'), 'sent_at'),
    (source('activity', 'activity_meeting'), 'starts_at')
] -%}
with lookback as (
    select cast({{ add_days(lookback_from, -var('activity_lookback_days')) }} as timestamp) as lookback_start
),

landed as (
    {%- if since %}
    {%- for relation, occurred in landed_sources %}
    select min({{ occurred }}) as first_landed
    from (
        {{ select_source_columns(relation, [
            (occurred, dbt.type_timestamp(), [occurred]),
            ('_extracted_at', dbt.type_timestamp(), ['_extracted_at'])
        ], present_columns(relation)) }}
    ) as rows_of_{{ occurred }}
    where _extracted_at > cast('{{ since }}' as timestamp)
    {{ 'union all' if not loop.last }}
    {%- endfor %}
    {%- else %}
    select cast(null as timestamp) as first_landed
    {%- endif %}
)

select
    case
        when min(d.first_landed) < l.lookback_start then min(d.first_landed)
        else l.lookback_start
    end as window_start,
    l.lookback_start,
    {{ 'min(d.first_landed)' if since else 'l.lookback_start' }} as landed_start,
    min(d.first_landed) as first_landed_since,
    cast({{ "'" ~ since ~ "'" if since else 'null' }} as timestamp) as changed_since
from lookback as l
cross join landed as d
group by l.lookback_start
