{#- SQL: one text that changes whenever a table's rows do. Per platform:
    <platform>__fraud_row_versions_sql in macros/platforms/postgres.sql and greenplum.sql. -#}

{% macro fraud_row_versions_sql(table) -%}
    {#- A select of one text: the table's row count and the sum of its rows' hashes. -#}
    {{ fraud_dispatch('fraud_row_versions_sql')(table) }}
{%- endmacro %}
