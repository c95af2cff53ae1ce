{#- Fivetran's way of surviving schema differences: select only the columns the source has,
    typed; a missing column is a typed null and a missing table an empty result, so a staging
    model runs on our raw layer and on a schema Fivetran or Airbyte loaded.
    `columns` is a list of (name, type, [source column candidates, first found wins]). -#}
{% macro present_columns(relation) -%}
    {%- set present = [] -%}
    {%- if execute -%}
        {%- for c in adapter.get_columns_in_relation(relation) -%}
            {%- do present.append(c.name | lower) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(present) }}
{%- endmacro %}

{% macro select_source_columns(relation, columns, present) -%}
    select
    {%- for col in columns %}
        {%- set found = col[2] | select('in', present) | list %}
        {% if found %}coalesce({% for f in found %}cast({{ adapter.quote(f) }} as {{ col[1] }}){{ ", " if not loop.last }}{% endfor %}, null){% else %}cast(null as {{ col[1] }}){% endif %} as {{ col[0] }}{{ "," if not loop.last }}
    {%- endfor %}
    {% if present or not execute %}from {{ relation }}{% else %}from (select 1 as missing_table) as missing where 1 = 0{% endif %}
{%- endmacro %}
