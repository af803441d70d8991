{#- The install's change log of the raw table's rows and its trigger function. Per platform:
    <platform>__fraud_install_change_log in macros/platforms/postgres.sql and greenplum.sql. -#}

{% macro fraud_install_change_log(schema) -%}
    {#- the change log of the raw table's rows and its trigger function (PostgreSQL) -#}
    {{ return(fraud_dispatch('fraud_install_change_log')(schema)) }}
{%- endmacro %}
