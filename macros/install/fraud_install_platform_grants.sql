{#- What a scoring role may read beyond the registry: the platform's own tables. Per platform:
    <platform>__fraud_install_platform_grants in macros/platforms/postgres.sql and
    greenplum.sql. -#}

{% macro fraud_install_platform_grants(schema, role) -%}
    {#- what a scoring role may read beyond the registry: the platform's own tables -#}
    {{ return(fraud_dispatch('fraud_install_platform_grants')(schema, role)) }}
{%- endmacro %}
