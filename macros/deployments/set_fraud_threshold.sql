{#- dbt run-operation set_fraud_threshold --args '{threshold: T}': the champion's (or a
    version's) threshold; decisions change at once. Run by the registry's owner (a superuser by
    default): it changes {schema}.deployments and appends to {schema}.deployment_history in one
    transaction; decisions follow at once, nothing is rescored. The same on every platform. -#}

{% macro set_fraud_threshold(threshold, version=none) -%}
    {#- The threshold of the champion (or of `version`): decisions change at once. -#}
    {%- set schema = fraud_schema() -%}
    {%- set t = _fraud_threshold_argument(threshold) -%}
    {%- if version is none -%}
        {%- set rows = run_query(
            "select model_version from " ~ schema ~ ".deployments where role = 'champion'"
        ).rows -%}
        {%- if not rows -%}
            {{ exceptions.raise_compiler_error("no champion: promote a version first") }}
        {%- endif -%}
        {%- set version = rows[0][0] -%}
    {%- endif -%}
    {%- set v = _fraud_registered_version(version) -%}
    {%- set rows = run_query("select role from " ~ schema ~ ".deployments where model_version = " ~ v).rows -%}
    {%- if not rows -%}
        {{ exceptions.raise_compiler_error(version ~ " is not deployed") }}
    {%- endif -%}
    {%- do run_query(_fraud_deploy(schema, v, rows[0][0], t)) -%}
    {%- do run_query('commit') -%}
    {{ log("threshold of " ~ version ~ ": " ~ (threshold if t != 'null' else "the model's own"), info=true) }}
{%- endmacro %}
