{#- Private to the deployment operations: a version argument, checked to be registered. The same
    on every platform. -#}

{% macro _fraud_registered_version(version) -%}
    {#- The version as a SQL literal, once it is known to be registered. -#}
    {%- if version is none or not modules.re.fullmatch(fraud_name_pattern('model_version'), version | string) -%}
        {{ exceptions.raise_compiler_error(
            "version must hold only letters, digits, '.', '_' and '-', got " ~ (version | string | tojson)
        ) }}
    {%- endif -%}
    {%- set v = fraud_quote_literal(version) -%}
    {%- if not run_query("select 1 from " ~ fraud_registry() ~ " where model_version = " ~ v).rows -%}
        {{ exceptions.raise_compiler_error(
            "model version " ~ (version | tojson) ~ " is not registered in " ~ fraud_registry()
            ~ ": register it with `python -m warehouse register --model-dir DIR`"
        ) }}
    {%- endif -%}
    {{ return(v) }}
{%- endmacro %}
