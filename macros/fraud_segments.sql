{#- Which engine are we on, and what is a segment there. -#}

{% macro fraud_engine_kind() -%}
    {#- 'postgres' or 'greenplum' (Greenplum 6/7, Apache Cloudberry): var
        fraud_engine_dispatch forces it, otherwise version() decides. -#}
    {%- set forced = var('fraud_engine_dispatch', none) -%}
    {%- if forced is not none and forced != '' -%}
        {%- if forced not in ['postgres', 'greenplum'] -%}
            {{ exceptions.raise_compiler_error(
                "var fraud_engine_dispatch must be 'postgres' or 'greenplum', got " ~ (forced | string | tojson)
            ) }}
        {%- endif -%}
        {{ return(forced) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return('postgres') }}
    {%- endif -%}
    {%- set version = run_query('select version()').rows[0][0] | lower -%}
    {{ return('greenplum' if ('greenplum' in version or 'cloudberry' in version) else 'postgres') }}
{%- endmacro %}

{% macro fraud_segment_id() -%}
    {#- On one PostgreSQL there is one segment; on Greenplum / Cloudberry each row's own. -#}
    {{ return('gp_segment_id' if fraud_engine_kind() == 'greenplum' else '0') }}
{%- endmacro %}
