{# Everything a run builds lands in one candidate schema (the target schema), so that the
   quality gate audits it and publish swaps it in whole (write-audit-publish, DESIGN §3).
   The exception: incremental intermediates that nothing reads but the next build (config
   schema=var('state_schema')) live in one schema that each build continues, instead of being
   copied into every version (revwh/transform.py). #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name else target.schema }}
{%- endmacro %}
