{#- The packed scoring rows are a view on PostgreSQL and an incremental table
    DISTRIBUTED BY (batch_id) on Greenplum / Cloudberry, decided at run time. -#}

{% materialization fraud_scoring_rows, adapter='postgres' -%}
    {#- PostgreSQL: a view. Packing inside the scoring query costs ~1 s less at 2M
        rows than writing the packed rows out (a table plus its WAL) and reading
        them back, and parallel workers pack in the scan.
        Greenplum / Cloudberry: an incremental table, so the rows sit on their
        batch's segment before scoring starts and grouping by batch is colocated. -#}
    {%- if fraud_engine_kind() == 'greenplum' -%}
        {{ return(dbt.materialization_incremental_default()) }}
    {%- else -%}
        {{ return(dbt.materialization_view_default()) }}
    {%- endif -%}
{%- endmaterialization %}

{% macro fraud_rows_incremental() -%}
    {#- is_incremental() for the fraud_scoring_rows materialization (dbt's own
        answers true only for materialized='incremental'). -#}
    {%- if not execute or fraud_engine_kind() != 'greenplum' or should_full_refresh() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set relation = adapter.get_relation(this.database, this.schema, this.table) -%}
    {{ return(relation is not none and relation.type == 'table') }}
{%- endmacro %}
