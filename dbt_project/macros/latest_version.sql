{# Raw is append-only: keep the latest version of each record. Ties on the cursor go to the
   later extraction, then the later dlt load, so the choice is deterministic. #}
{% macro latest_version(relation, key, cursor) -%}
    select * from (
        select
            *,
            row_number() over (
                partition by {{ key }}
                order by {{ cursor }} desc nulls last, _extracted_at desc, _dlt_load_id desc
            ) as _version_rank
        from {{ relation }}
    ) versions
    where _version_rank = 1
{%- endmacro %}
