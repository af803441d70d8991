{#- A value as an SQL string literal. The same on every platform. -#}

{% macro fraud_quote_literal(value) -%}
    {#- A SQL string literal; standard_conforming_strings is on in every supported platform. -#}
    {{ return("'" ~ (value | string | replace("'", "''")) ~ "'") }}
{%- endmacro %}
