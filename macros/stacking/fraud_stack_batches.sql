{#- Every staged transaction cut into batches (a full build of the stacks). Per platform:
    <platform>__fraud_stack_batches in macros/platforms/postgres.sql and greenplum.sql. -#}

{% macro fraud_stack_batches(staged, batch_rows, name) -%}
    {#- CTEs ending in `name`_stacks: every staged transaction cut into batches of
        batch_rows, one row per batch with batch_rows, batch_id and
        fraud_stack_columns(). PostgreSQL: one index range scan per batch;
        Greenplum / Cloudberry: one grouping by a placement key per segment. -#}
    {{ fraud_dispatch('fraud_stack_batches')(staged, batch_rows, none, name) }}
{%- endmacro %}
