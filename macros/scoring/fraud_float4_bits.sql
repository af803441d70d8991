{#- A number's float4 bit pattern: how fraud_scores compares probabilities with a threshold. The
    same on every platform. -#}

{% macro fraud_float4_bits(value) -%}
    {#- The bit pattern of a number as a float4 (rounded to nearest, as the scorer does), an integer. -#}
    {%- if not execute -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set sql = "select ('x' || encode(float4send(" ~ (value | float) ~ "::float4), 'hex'))::bit(32)::integer" -%}
    {{ return(run_query(sql).rows[0][0]) }}
{%- endmacro %}
