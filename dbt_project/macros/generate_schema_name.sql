{# Everything a run builds lands in one candidate schema (the target schema), so that the
   quality gate audits it and publish swaps it in whole (write-audit-publish, DESIGN §3). #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ target.schema }}
{%- endmacro %}
