{#- The staged transactions no stored stack holds, stacked (an incremental run). Per platform:
    <platform>__fraud_stack_new_rows in macros/platforms/postgres.sql and greenplum.sql. -#}

{% macro fraud_stack_new_rows(staged, batch_rows, stacks, name) -%}
    {#- CTEs ending in `name`_stacks: the staged transactions that no stack in `stacks`
        holds, stacked. PostgreSQL: the rows written since the last stacking (by
        commit order, fraud_changed_source_ids) that fall outside every stored stack's
        id range, grouped by batch and by the gap between stored stacks they fall in,
        so stack ranges never overlap; Greenplum / Cloudberry: ids above the highest
        stacked. -#}
    {{ fraud_dispatch('fraud_stack_new_rows')(staged, batch_rows, stacks, name) }}
{%- endmacro %}
