{#- The model registry table, {schema}.models. The same on every platform. -#}

{% macro fraud_registry() -%}
    {{ return(fraud_schema() ~ '.models') }}
{%- endmacro %}
