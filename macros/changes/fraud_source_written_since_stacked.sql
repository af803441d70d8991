{#- For the dbt test fraud_scores_are_current: source rows the next run will stack. Per
    platform: <platform>__fraud_source_written_since_stacked in macros/platforms/postgres.sql
    and greenplum.sql. -#}

{% macro fraud_source_written_since_stacked(stacks) -%}
    {#- A query of the ids of source rows written since the newest stacking (what the next
        run will stack: PostgreSQL; nothing where changes are not followed by commit order). -#}
    {{ fraud_dispatch('fraud_source_written_since_stacked')(stacks) }}
{%- endmacro %}
