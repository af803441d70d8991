{#- At most one champion in the deployments table, enforced by the database where it can. Per
    platform: <platform>__fraud_install_one_champion_index in macros/platforms/postgres.sql and
    greenplum.sql. -#}

{% macro fraud_install_one_champion_index(schema) -%}
    {#- at most one champion, enforced by the database where it can -#}
    {{ return(fraud_dispatch('fraud_install_one_champion_index')(schema)) }}
{%- endmacro %}
