{#- What the stacking transaction saw of the source, stored with each stack. Per platform:
    <platform>__fraud_stacking_snapshot in macros/platforms/postgres.sql and greenplum.sql. -#}

{% macro fraud_stacking_snapshot() -%}
    {#- What the stacking transaction saw of the source (PostgreSQL: its snapshot, the
        commit-order fact that finds rows written since; NULL where not followed). -#}
    {{ fraud_dispatch('fraud_stacking_snapshot')() }}
{%- endmacro %}
