{# The grain: no two rows share these columns' values (macros/duplicate_keys.sql). #}
{% test unique_combination_of_columns(model, combination_of_columns) %}
{{ revwh_duplicate_keys(model, combination_of_columns) }}
{% endtest %}
