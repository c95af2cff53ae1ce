{# The fct_win_loss fields the rules of the win_loss_rules seed may test, by kind: text fields
   take the operators =, != and each (one rule per value); number fields <, <=, >, >= and
   between (bounds inclusive). verifier_not_verified_at_close is set-valued: the keys of the
   catalogue verifiers that were not verified at close (from fct_win_loss_verifier). #}
{% macro win_loss_rule_fields() -%}
    {{ return({
        'text': ['segment', 'region', 'lead_source', 'opportunity_type', 'owner_id',
                 'pain_category', 'impact', 'critical_event', 'decision_criteria',
                 'win_loss_reason'],
        'number': ['amount', 'cycle_days', 'critical_event_lead_days', 'stakeholders_engaged',
                   'contact_roles', 'buyer_response_median_hours', 'impact_amount',
                   'verifier_score_at_close', 'verifiers_verified_at_close'],
        'verifier': ['verifier_not_verified_at_close'],
    }) }}
{%- endmacro %}

{# The operators each kind of field takes. #}
{% macro win_loss_rule_operators() -%}
    {{ return({
        'text': ['=', '!=', 'each'],
        'number': ['<', '<=', '>', '>=', 'between'],
        'verifier': ['=', 'each'],
    }) }}
{%- endmacro %}

{# Seed rows whose field is unknown or whose operator does not suit the field's kind. #}
{% test win_loss_rule_is_valid(model) %}
    {%- set fields = win_loss_rule_fields() %}
    {%- set operators = win_loss_rule_operators() %}
    select *
    from {{ model }}
    where not (
        {%- for kind, names in fields.items() %}
        (field in ('{{ names | join("', '") }}') and operator in ('{{ operators[kind] | join("', '") }}')){{ " or" if not loop.last }}
        {%- endfor %}
    )
    or (operator = 'between' and upper_value is null)
    or (operator <> 'each' and value is null)
{% endtest %}
