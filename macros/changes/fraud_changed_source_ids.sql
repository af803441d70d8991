{#- The ids of the source rows written since the latest stacking, by commit order. Per platform:
    <platform>__fraud_changed_source_ids in macros/platforms/postgres.sql and greenplum.sql. -#}

{% macro fraud_changed_source_ids(stacks) -%}
    {#- A query of the ids of the source rows written (inserted or updated) since the
        latest stacking before this transaction, by commit order (PostgreSQL: each
        row's xmin against the snapshot that stacking recorded), or of every row when
        there is no such stacking. -#}
    {{ fraud_dispatch('fraud_changed_source_ids')(stacks) }}
{%- endmacro %}
