{#- Fivetran's way: read only the columns the source has, typed; a missing column is a typed
    null and a missing table is an empty result, so this model runs on our raw layer and on a
    schema that Fivetran or Airbyte loaded. -#}
{%- set relation = source('hubspot', 'deal_company') -%}
{%- set columns = [
    ('deal_id', dbt.type_string(), ['deal_id']),
    ('company_id', dbt.type_string(), ['company_id']),
    ('type_id', dbt.type_bigint(), ['type_id']),
    ('category', dbt.type_string(), ['category']),
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
{#- associations land as full snapshots, re-pulled every run: the latest one is the truth #}
{%- if '_extracted_at' in present %}
, current_snapshot as (
    select * from fields where _extracted_at = (select max(_extracted_at) from fields)
)
{%- else %}
, current_snapshot as (select * from fields)
{%- endif %}

select distinct
    deal_id as opportunity_id,
    company_id as account_id,
    type_id as association_type_id,
    category as association_category
from current_snapshot
where deal_id is not null and company_id is not null
