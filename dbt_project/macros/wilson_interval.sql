{# The Wilson score interval of a binomial proportion (wins of n), textbook form:
       centre    = (p + z²/2n) / (1 + z²/n)
       half-width = z · sqrt(p(1 − p)/n + z²/4n²) / (1 + z²/n),   p = wins / n
   Unlike p ± z·sqrt(p(1 − p)/n) it stays inside [0, 1] and is not empty at p = 0 or 1, which
   matters for the small groups of a rule in one quarter. Null when n = 0.
   z defaults to var('wilson_z') (1.959964: 95%). #}
{% macro wilson_bound(wins, n, sign, z=none) -%}
    {%- set z = z if z is not none else var('wilson_z') -%}
    {%- set p = "(cast(" ~ wins ~ " as double precision) / (" ~ n ~ "))" -%}
    case when ({{ n }}) > 0 then
        ({{ p }} + {{ z }} * {{ z }} / (2.0 * ({{ n }}))
         {{ sign }} {{ z }} * sqrt({{ p }} * (1 - {{ p }}) / ({{ n }}) + {{ z }} * {{ z }} / (4.0 * ({{ n }}) * ({{ n }}))))
        / (1 + {{ z }} * {{ z }} / ({{ n }}))
    end
{%- endmacro %}

{% macro wilson_lower(wins, n, z=none) -%}
    {{ wilson_bound(wins, n, '-', z) }}
{%- endmacro %}

{% macro wilson_upper(wins, n, z=none) -%}
    {{ wilson_bound(wins, n, '+', z) }}
{%- endmacro %}
