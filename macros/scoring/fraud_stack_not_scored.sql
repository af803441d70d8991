{#- In fraud_scores' incremental run: the stored stacks a version has not scored yet. Its
    platform differences are in the macros it calls: fraud_stack_scored_by. -#}

{% macro fraud_stack_not_scored(stack, scores, version) -%}
    {#- True for a stack (a relation alias with stack_id and first_ and last_transaction_id)
        without scores computed from it by `version` in `scores`: a stack is scored whole,
        in one statement, so any of its scores stands for it (fraud_stack_scored_by finds
        them through the scores' key). -#}
    not exists (
        select 1
        from {{ scores }} as scored
        where
            {{ fraud_stack_scored_by(stack) }}
            and scored.model_version = {{ fraud_quote_literal(version) }}
            and scored.stack_id = {{ stack }}.stack_id
    )
{%- endmacro %}
