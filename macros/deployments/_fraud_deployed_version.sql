{#- Private to the deployment operations: the version an operation acts on, the champion when
    none is named. The same on every platform. -#}

{% macro _fraud_deployed_version(version) -%}
    {#- `version` as given, else the champion's; no champion is an error. -#}
    {%- if version is not none -%}
        {{ return(version) }}
    {%- endif -%}
    {%- set rows = run_query(
        "select model_version from " ~ fraud_schema() ~ ".deployments where role = 'champion'"
    ).rows -%}
    {%- if not rows -%}
        {{ exceptions.raise_compiler_error(
            "no champion: promote a version first (`dbt run-operation promote_fraud_model --args '{version: V}'`)"
        ) }}
    {%- endif -%}
    {{ return(rows[0][0]) }}
{%- endmacro %}
