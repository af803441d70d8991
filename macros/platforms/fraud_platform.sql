{#- Which database platform this run is on: postgres or greenplum (docs/architecture.md, "Platforms
    in the macros"). fraud_dispatch.sql, beside it, chooses the implementations by it. -#}

{% macro fraud_platform() -%}
    {#- 'postgres' or 'greenplum' (Greenplum 6/7, Apache Cloudberry): var
        fraud_platform forces it, otherwise version() decides, asked once per dbt
        invocation: the answer is kept in `graph`, the one dict every node of a run
        shares (a debug line, "fraud_platform: asked the server", says when it asks). -#}
    {%- do fraud_renamed_var('fraud_engine_dispatch', 'fraud_platform') -%}
    {%- set forced = var('fraud_platform', none) -%}
    {%- if forced is not none and forced != '' -%}
        {{ return(fraud_choice('fraud_platform', forced | string, ['postgres', 'greenplum'])) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return('postgres') }}
    {%- endif -%}
    {%- if 'fraud_platform' not in graph -%}
        {%- set version = run_query('select version()').rows[0][0] | lower -%}
        {%- set platform = 'greenplum' if ('greenplum' in version or 'cloudberry' in version) else 'postgres' -%}
        {{ log('fraud_platform: asked the server (select version()): ' ~ platform) }}
        {%- do graph.update({'fraud_platform': platform}) -%}
    {%- endif -%}
    {{ return(graph['fraud_platform']) }}
{%- endmacro %}
