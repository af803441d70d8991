{#- For the dbt test fraud_scores_are_current: how many transactions it compares with the
    source. Per platform: <platform>__fraud_currency_sample_every in
    macros/platforms/postgres.sql and greenplum.sql. -#}

{% macro fraud_currency_sample_every() -%}
    {#- dbt test compares the stacked features of every n-th transaction id with the source:
        PostgreSQL follows updates by commit order, so a sample checks that it does;
        Greenplum / Cloudberry does not, so every row is compared. -#}
    {{ return(fraud_dispatch('fraud_currency_sample_every')()) }}
{%- endmacro %}
