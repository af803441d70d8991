{#- In fraud_scores' incremental run: the stored stacks a version has not scored yet. Per
    platform: <platform>__fraud_stack_not_scored in macros/platforms/postgres.sql and
    greenplum.sql. -#}

{% macro fraud_stack_not_scored(stack, scores, version) -%}
    {#- True for a stack (a relation alias with stack_id and first_ and last_transaction_id)
        without a score computed from it (scores.stack_id) by `version` in `scores`. A
        stack is scored whole, in one statement, and its id is drawn anew whenever it is
        built (fraud_new_stack_id), so any score carrying its id stands for it, whichever
        of its rows that score is for: the check is exact even when some of its rows are
        quarantined. Only a stack whose every row is quarantined has no score, and is
        tried again by each run (it adds nothing). The platforms differ in how they find
        the stack's scores. -#}
    {{ fraud_dispatch('fraud_stack_not_scored')(stack, scores, version) }}
{%- endmacro %}
