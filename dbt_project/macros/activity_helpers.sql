{# Email and calendar helpers (DESIGN §4, §5 "Activity"). #}

{# Internal people are recognised by the company's domains (var company_domains, set by revwh
   from settings.company_domains); a subdomain counts as the domain, as in the readers. #}
{% macro activity_is_internal(domain) -%}
    coalesce(
    {%- for d in var('company_domains') %}
        {{ domain }} = '{{ d | lower }}' or {{ domain }} like '%.{{ d | lower }}'{{ " or" if not loop.last }}
    {%- endfor %}, false)
{%- endmacro %}

{# Raw activity is append-only and a message (or meeting occurrence) lands once per mailbox (or
   calendar) that holds it: keep one copy per key, from the latest batch, the rest ordered by
   `tiebreak` so that the choice is deterministic. #}
{% macro activity_latest_copy(relation, key, tiebreak) -%}
    select * from (
        select
            *,
            row_number() over (
                partition by {{ key }}
                order by _extracted_at desc, _dlt_load_id desc, {{ tiebreak }}
            ) as _copy_rank
        from {{ relation }}
    ) copies
    where _copy_rank = 1
{%- endmacro %}

{# Hours (fractional: seconds / 3600) from timestamp a to timestamp b. #}
{% macro activity_hours_between(a, b) -%}
    (extract(epoch from (({{ b }}) - ({{ a }}))) / 3600.0)
{%- endmacro %}
