{#- The install's table of placement keys that stacking gives batches. Per platform:
    <platform>__fraud_install_placement_keys in macros/platforms/postgres.sql and greenplum.sql.
    -#}

{% macro fraud_install_placement_keys(schema) -%}
    {#- the table of placement keys stacking gives batches (Greenplum) -#}
    {{ return(fraud_dispatch('fraud_install_placement_keys')(schema)) }}
{%- endmacro %}
