{#- The source rows of some stored stacks: what fraud_feature_bins reads the days from. Per
    platform: <platform>__fraud_stack_rows in macros/platforms/postgres.sql and greenplum.sql. -#}

{% macro fraud_stack_rows(new_stacks, staged) -%}
    {#- A FROM clause: `new_stacks` (a CTE with stack_id, transaction_ids, first_transaction_id,
        last_transaction_id) as new_stacks, joined with the source rows of each stack's range
        (at least the stack's own rows) as `staged` (transaction_id, seconds_since_start). -#}
    {{ fraud_dispatch('fraud_stack_rows')(new_stacks, staged) }}
{%- endmacro %}
