{#- The condition that narrows a probe for a stored stack's scores without ever missing one. Per
    platform: <platform>__fraud_scores_of_stack in macros/platforms/postgres.sql and greenplum.sql. -#}

{% macro fraud_scores_of_stack(stack) -%}
    {#- The condition on `scored` (fraud_scores) that narrows the search for the scores of
        `stack` (a relation alias with first_ and last_transaction_id); the caller adds the
        stack_id and version equalities. -#}
    {{ fraud_dispatch('fraud_scores_of_stack')(stack) }}
{%- endmacro %}
