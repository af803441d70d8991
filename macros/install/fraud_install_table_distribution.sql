{#- How the install spreads the registry's small tables. Per platform:
    <platform>__fraud_install_table_distribution in macros/platforms/postgres.sql and
    greenplum.sql. -#}

{% macro fraud_install_table_distribution() -%}
    {#- how the registry's small tables are spread: '' or ' distributed replicated' -#}
    {{ return(fraud_dispatch('fraud_install_table_distribution')()) }}
{%- endmacro %}
