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

{# Hours (fractional: seconds / 3600) from timestamp a to timestamp b, as a double (PostgreSQL's
   extract gives a numeric). #}
{% macro activity_hours_between(a, b) -%}
    (cast(extract(epoch from (({{ b }}) - ({{ a }}))) as double precision) / 3600.0)
{%- endmacro %}

{# How sure a match is (fct_activity.match_confidence), by how it was made. The levels follow the
   share of right matches on the demo data's ground truth: an opportunity that is the only open
   one of the participants' buying group is nearly always right, one chosen by the nearest close
   date among equally engaged ones only about half of the time. #}
{% macro activity_match_confidence(match_method, decided_by) -%}
    case
        when {{ match_method }} = 'contact_role' and {{ decided_by }} = 'only_candidate' then 0.95
        when {{ match_method }} = 'contact_role' and {{ decided_by }} = 'contact_role_participants' then 0.8
        when {{ match_method }} = 'contact_role' then 0.5
        when {{ match_method }} = 'contact_account' then 0.9
        when {{ match_method }} = 'email_domain' then 0.6
    end
{%- endmacro %}
