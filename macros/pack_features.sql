{% macro pack_features(columns) -%}
    {#- Pack the features once, as float4 big-endian bytes (float4send, a built-in
        C function), so scoring moves bytes, not per-element Python floats.
        NULL becomes NaN here so the scorer reports it by transaction id instead
        of the row silently vanishing from string_agg. -#}
    {%- for column in columns -%}
        float4send(coalesce({{ column }}::float4, 'NaN'::float4))
        {%- if not loop.last %} || {% endif -%}
    {%- endfor -%}
{%- endmacro %}

{% macro fraud_feature_columns() -%}
    {#- V1..V28, the model's inputs, in the model's input order. -#}
    {%- set columns = [] -%}
    {%- for i in range(1, 29) -%}
        {%- do columns.append('v' ~ i) -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}
