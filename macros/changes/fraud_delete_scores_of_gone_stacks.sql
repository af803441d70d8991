{#- The scores whose stack is no longer stored, deleted. Per platform:
    <platform>__fraud_delete_scores_of_gone_stacks in macros/platforms/postgres.sql and
    greenplum.sql. -#}

{% macro fraud_delete_scores_of_gone_stacks(scores, stacks) -%}
    {#- Statements deleting from `scores` every score whose stack (stack_id) is not in
        `stacks`: its rows changed and were stacked again, or were deleted. -#}
    {{ fraud_dispatch('fraud_delete_scores_of_gone_stacks')(scores, stacks) }}
{%- endmacro %}
