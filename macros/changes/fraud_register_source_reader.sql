{#- A pre-hook of int_credit_card__scoring_stacks, before its transaction: this stacks table
    registered as a reader of the change log. Per platform:
    <platform>__fraud_register_source_reader in macros/platforms/postgres.sql and greenplum.sql. -#}

{% macro fraud_register_source_reader() -%}
    {#- Committed before the stacking's snapshot is taken, so that any stacking of another
        stacks table that later clears the change log keeps what this one has not read
        (docs/reliability.md, "Several projects on one source"). -#}
    {{ fraud_dispatch('fraud_register_source_reader')(this) }}
{%- endmacro %}
