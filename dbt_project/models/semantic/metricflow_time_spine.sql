{{ config(materialized='table') }}
{# The day spine MetricFlow needs for the semantic layer (a fixed range: reruns are identical). #}
{{ date_spine("cast('" ~ var('time_spine_start') ~ "' as date)", "cast('" ~ var('time_spine_end') ~ "' as date)") }}
