{#- A post-hook of int_credit_card__scoring_stacks, in its transaction: how far this stacks
    table has read the change log. Per platform: <platform>__fraud_record_source_read in
    macros/platforms/postgres.sql and greenplum.sql. -#}

{% macro fraud_record_source_read() -%}
    {#- This stacking's snapshot, committed with its stacks: every write it sees has been
        acted on, for this stacks table. -#}
    {{ fraud_dispatch('fraud_record_source_read')(this) }}
{%- endmacro %}
