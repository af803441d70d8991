{#- The score-drift alarm levels: vars fraud_psi_warn and fraud_psi_error, validated. The same on
    every platform. -#}

{% macro fraud_psi_levels() -%}
    {#- {warn, error}: the PSI at or above which a day's score distribution warns, and fails
        dbt test (fraud_score_drift). Each a finite positive number, warn <= error; the usual
        reading of PSI: below 0.1 stable, 0.1 to 0.25 a shift to look at, 0.25 and above a
        population the model was not trained on. -#}
    {%- set levels = {} -%}
    {%- for name, default in [('warn', 0.1), ('error', 0.25)] -%}
        {%- set text = var('fraud_psi_' ~ name, default) | string -%}
        {%- if not modules.re.fullmatch('[0-9]*[.]?[0-9]+([eE][-+]?[0-9]+)?', text) or (text | float) <= 0 -%}
            {{ exceptions.raise_compiler_error(
                "var fraud_psi_" ~ name ~ " must be a positive number, got " ~ (text | tojson)
            ) }}
        {%- endif -%}
        {%- do levels.update({name: text | float}) -%}
    {%- endfor -%}
    {%- if levels.warn > levels.error -%}
        {{ exceptions.raise_compiler_error(
            "var fraud_psi_warn (" ~ levels.warn ~ ") must not be above fraud_psi_error (" ~ levels.error ~ ")"
        ) }}
    {%- endif -%}
    {{ return(levels) }}
{%- endmacro %}
