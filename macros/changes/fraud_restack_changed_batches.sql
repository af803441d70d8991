{#- A pre-hook of int_credit_card__scoring_stacks: stored stacks whose source rows changed,
    stacked again (docs/reliability.md). Per platform: <platform>__fraud_restack_changed_batches
    in macros/platforms/postgres.sql and greenplum.sql. -#}

{% macro fraud_restack_changed_batches() -%}
    {#- A pre-hook of int_credit_card__scoring_stacks, in an incremental run: stored
        stacks whose source rows changed since they were stacked, stacked again
        (PostgreSQL; nothing on Greenplum / Cloudberry, where a changed row needs a
        full refresh and dbt test reports it). -#}
    {%- if is_incremental() -%}
        {{ fraud_dispatch('fraud_restack_changed_batches')() }}
    {%- endif -%}
{%- endmacro %}
