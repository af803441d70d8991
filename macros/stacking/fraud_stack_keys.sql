{#- A post-hook of int_credit_card__scoring_stacks: the stacks' keys. Per platform:
    <platform>__fraud_stack_keys in macros/platforms/postgres.sql and greenplum.sql. -#}

{% macro fraud_stack_keys() -%}
    {#- A post-hook of int_credit_card__scoring_stacks: the stacks' keys (PostgreSQL: a
        unique index on first_transaction_id, which also finds the stack holding an id). -#}
    {{ fraud_dispatch('fraud_stack_keys')(this) }}
{%- endmacro %}
