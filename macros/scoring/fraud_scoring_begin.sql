{#- The first pre-hook of fraud_scores: one scoring transaction at a time, no stacking while it
    scores. The same on every platform. -#}

{% macro fraud_scoring_begin() -%}
    {#- The first pre-hook of fraud_scores: one scoring transaction at a time on this
        table, and no stacking while it scores (the stacks it reads stay as they are
        until it commits; a stacking transaction waits, and so does this one for a
        stacking transaction under way). Locks are taken in one order (scores, then
        stacks), so two runs cannot deadlock. -#}
    {%- set existing = load_cached_relation(this) -%}
    {%- if existing is not none %}
    lock table {{ existing }} in exclusive mode;
    {%- endif %}
    lock table {{ ref('int_credit_card__scoring_stacks') }} in share mode
{%- endmacro %}
