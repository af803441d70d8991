{#- The patterns a model version and an SQL identifier must match (constants, stated again in
    warehouse/names.py). The same on every platform. -#}

{% macro fraud_name_pattern(kind) -%}
    {#- The pattern a name must match in full (kind: model_version or identifier).
        Constants, not settings: validation that a var could replace is no validation
        (a var fraud_names once let fraud_schema carry SQL into on-run-start).
        warehouse/names.py states the same two for Python; a test checks they agree. -#}
    {#- (under sqlfluff, whose var() renders text, dbt_project is defined: .sqlfluff_lib) -#}
    {%- if var('fraud_names', none) is not none and dbt_project is not defined -%}
        {{ exceptions.raise_compiler_error(
            "var fraud_names is not a setting: the name patterns are fixed (macros/validation/fraud_name_pattern.sql)"
        ) }}
    {%- endif -%}
    {{ return({
        'model_version': '[A-Za-z0-9._-]{1,128}',
        'identifier': '[a-z_][a-z0-9_]{0,62}',
    }[kind]) }}
{%- endmacro %}
