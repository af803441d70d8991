{#- The one check of every threshold: a number strictly between 0 and 1. The same on every
    platform. -#}

{% macro fraud_checked_threshold(value, what) -%}
    {#- A threshold as a float: a decimal number strictly between 0 and 1 (0.5, .05), checked
        as text first, so that NaN, Infinity, 1e-3, 0 and 1 never reach SQL. The one check
        of every threshold the macros take: var fraud_threshold, the deployment operations'
        arguments, a registered model's own (registration checks it too:
        fraud_scoring.model_audit.checked_threshold). -#}
    {%- set text = value | string | trim -%}
    {%- if not modules.re.fullmatch('0?\.[0-9]{1,17}', text) or (text | float) <= 0 or (text | float) >= 1 -%}
        {{ exceptions.raise_compiler_error(
            what ~ " must be a number strictly between 0 and 1, got " ~ (value | string | tojson)
        ) }}
    {%- endif -%}
    {{ return(text | float) }}
{%- endmacro %}
