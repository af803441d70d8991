{#- A post-hook of int_credit_card__scoring_stacks, after its commit: the change log's
    entries every reader has read, deleted. Per platform:
    <platform>__fraud_forget_read_source_writes in macros/platforms/postgres.sql and greenplum.sql. -#}

{% macro fraud_forget_read_source_writes() -%}
    {#- After the commit, in a statement of its own (a fresh snapshot): it sees every
        reader registered before it, including one whose first stacking is still running. -#}
    {{ fraud_dispatch('fraud_forget_read_source_writes')() }}
{%- endmacro %}
