{#- The population stability index, one definition for score and feature drift (numpy's twin:
    fraud_scoring.score_bins.psi). The same on every platform. -#}

{% macro fraud_psi(actual_share, expected_share) -%}
    {#- SQL aggregate: sum over bins of (a - e) ln(a / e), a the day's share, e the reference's,
        each floored at 0.0001 so that an empty bin counts (as 0.01%) instead of dividing by
        zero. -#}
    {%- set a = 'greatest(' ~ actual_share ~ ', 0.0001)' -%}
    {%- set e = 'greatest(' ~ expected_share ~ ', 0.0001)' -%}
    sum(({{ a }} - {{ e }}) * ln({{ a }} / {{ e }}))
{%- endmacro %}
