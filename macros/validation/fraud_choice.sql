{#- A var that must be one of two values: its value, or a compile error naming both. The same on
    every platform. -#}

{% macro fraud_choice(name, value, choices) -%}
    {#- `value` of var `name` when it is one of two `choices`; otherwise a compile error naming them. -#}
    {%- if value not in choices -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ name ~ " must be '" ~ choices[0] ~ "' or '" ~ choices[1] ~ "', got " ~ (value | tojson)
        ) }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}
