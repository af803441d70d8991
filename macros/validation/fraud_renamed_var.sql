{#- A var this project renamed: a compile error naming the new name. The same on every platform.
    -#}

{% macro fraud_renamed_var(old, new) -%}
    {#- A var this project renamed: fail naming the new one rather than silently
        ignoring a setting. -#}
    {%- if var(old, '') | string != '' -%}
        {{ exceptions.raise_compiler_error("var " ~ old ~ " is now called " ~ new ~ ": rename it") }}
    {%- endif -%}
{%- endmacro %}
