{# A source never sends one record twice in one extraction: a repeated id within a batch is
   corrupt input (re-extracting a record in a later batch is normal and dedup'd in staging). #}
{% test unique_within_batch(model, column_name) %}
select _batch_id, {{ column_name }}, count(*) as n
from {{ model }}
where {{ column_name }} is not null
group by _batch_id, {{ column_name }}
having count(*) > 1
{% endtest %}
