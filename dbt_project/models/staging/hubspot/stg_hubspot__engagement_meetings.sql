{#- Fivetran's way: read only the columns the source has, typed; a missing column is a typed
    null and a missing table is an empty result, so this model runs on our raw layer and on a
    schema that Fivetran or Airbyte loaded. -#}
{%- set relation = source('hubspot', 'engagement_meeting') -%}
{%- set columns = [
    ('engagement_id', dbt.type_string(), ['engagement_id']),
    ('title', dbt.type_string(), ['title']),
    ('start_time', dbt.type_timestamp(), ['start_time']),
    ('end_time', dbt.type_timestamp(), ['end_time']),
    ('meeting_outcome', dbt.type_string(), ['meeting_outcome']),
    ('location', dbt.type_string(), ['location']),
    ('last_updated', dbt.type_timestamp(), ['last_updated']),
    ('_extracted_at', dbt.type_timestamp(), ['_extracted_at', '_fivetran_synced']),
    ('_dlt_load_id', dbt.type_string(), ['_dlt_load_id'])
] -%}
{%- set present = [] -%}
{%- if execute -%}
    {%- for c in adapter.get_columns_in_relation(relation) -%}
        {%- do present.append(c.name | lower) -%}
    {%- endfor -%}
{%- endif %}
with fields as (
    select
    {%- for col in columns %}
        {%- set found = col[2] | select('in', present) | list %}
        {% if found %}coalesce({% for f in found %}cast({{ adapter.quote(f) }} as {{ col[1] }}){{ ", " if not loop.last }}{% endfor %}, null){% else %}cast(null as {{ col[1] }}){% endif %} as {{ col[0] }}{{ "," if not loop.last }}
    {%- endfor %}
    {% if present or not execute %}from {{ relation }}{% else %}from (select 1 as missing_table) as missing where 1 = 0{% endif %}
)
, latest as (
    {{ latest_version('fields', 'engagement_id', 'last_updated') }}
)

select
    engagement_id,
    title as meeting_title,
    start_time as starts_at,
    end_time as ends_at,
    meeting_outcome,
    location
from latest
