{#- dbt run-operation add_fraud_challenger --args '{version: V}': V is scored beside the
    champion, deciding nothing, at its threshold (else the model's own) and with no block band.
    Run by the registry's owner (a superuser by default): it changes
    {schema}.deployments and appends to {schema}.deployment_history in one transaction;
    decisions follow at once, nothing is rescored. The same on every platform. -#}

{% macro add_fraud_challenger(version, threshold=none, reason=none) -%}
    {#- Score `version` beside the champion (in shadow: it decides nothing). -#}
    {%- set schema = fraud_schema() -%}
    {%- set v = _fraud_registered_version(version) -%}
    {%- set champion = run_query(
        "select 1 from " ~ schema ~ ".deployments where role = 'champion' and model_version = " ~ v
    ).rows -%}
    {%- if champion -%}
        {{ exceptions.raise_compiler_error(version ~ " is the champion: promote another version first") }}
    {%- endif -%}
    {%- set why = _fraud_reason_argument(reason, 'add_fraud_challenger') -%}
    {%- do run_query(_fraud_deploy(
        schema, v, 'challenger', _fraud_threshold_argument(threshold), 'add_fraud_challenger', why
    )) -%}
    {%- do run_query('commit') -%}
    {{ log("challenger: " ~ version ~ " (scored from the next dbt run)", info=true) }}
{%- endmacro %}
