{#- For the dbt test fraud_scores_are_current: stored stacks whose rows the source lost. Per
    platform: <platform>__fraud_stack_lost_rows in macros/platforms/postgres.sql and
    greenplum.sql. -#}

{% macro fraud_stack_lost_rows(stack) -%}
    {#- True for a stored stack (an alias) whose transactions the source no longer all holds
        (PostgreSQL: an index-only count of its id range; Greenplum / Cloudberry: false, the
        comparison of every row's features finds those rows). -#}
    {{ fraud_dispatch('fraud_stack_lost_rows')(stack) }}
{%- endmacro %}
