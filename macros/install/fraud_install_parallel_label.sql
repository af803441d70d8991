{#- A function's PARALLEL label in the install's DDL. Per platform:
    <platform>__fraud_install_parallel_label in macros/platforms/postgres.sql and greenplum.sql.
    -#}

{% macro fraud_install_parallel_label(label) -%}
    {#- a function's PARALLEL label ('safe' / 'unsafe'), where the platform has them -#}
    {{ return(fraud_dispatch('fraud_install_parallel_label')(label)) }}
{%- endmacro %}
