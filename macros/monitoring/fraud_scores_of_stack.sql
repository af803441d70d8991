{#- The condition that narrows a read of a stored stack's rows (its scores, its source rows) without
    missing one. Per platform: <platform>__fraud_scores_of_stack in macros/platforms/postgres.sql
    and greenplum.sql. -#}

{% macro fraud_scores_of_stack(stack, alias='scored') -%}
    {#- The condition on `alias` (fraud_scores or the staged source) that narrows the search for
        the rows of `stack` (a relation alias with first_ and last_transaction_id); the caller
        adds the stack_id and version equalities for scores. -#}
    {{ fraud_dispatch('fraud_scores_of_stack')(stack, alias) }}
{%- endmacro %}
