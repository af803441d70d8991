{#- A name checked to be a lowercase SQL identifier before it reaches SQL. The same on every
    platform. -#}

{% macro fraud_identifier(name, what) -%}
    {%- if not modules.re.fullmatch(fraud_name_pattern('identifier'), name | string) -%}
        {{ exceptions.raise_compiler_error(
            what ~ " must be a lowercase SQL identifier ([a-z_][a-z0-9_]*), got " ~ (name | string | tojson)
        ) }}
    {%- endif -%}
    {{ return(name | string) }}
{%- endmacro %}
