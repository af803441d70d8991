{#- The condition that narrows the search for a stack's scores. Per platform:
    <platform>__fraud_stack_scored_by in macros/platforms/postgres.sql and greenplum.sql. -#}

{% macro fraud_stack_scored_by(stack) -%}
    {#- The condition on `scored` that narrows the search for a stack's scores. -#}
    {{ fraud_dispatch('fraud_stack_scored_by')(stack) }}
{%- endmacro %}
