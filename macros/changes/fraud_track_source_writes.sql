{#- Attaching the change log's triggers to the source. Per platform:
    <platform>__fraud_track_source_writes in macros/platforms/postgres.sql and greenplum.sql. -#}

{% macro fraud_track_source_writes() -%}
    {#- on-run-start, and `dbt run-operation fraud_track_source_writes` for an administrator:
        make the source's writes logged (fraud.source_writes), so that stacking reads the
        log instead of scanning the source. Until they are, stacking scans (the same
        answer, slower). -#}
    {{ fraud_dispatch('fraud_track_source_writes')() }}
{%- endmacro %}
