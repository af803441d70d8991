{#- dbt run-operation set_fraud_threshold --args '{threshold: T}': the champion's (or a
    version's) threshold, the review band's lower edge; decisions change at once. Run by the
    registry's owner (a superuser by default): it changes {schema}.deployments, appends to
    {schema}.deployment_history and records the change in {schema}.threshold_audit in one
    transaction; decisions follow at once, nothing is rescored. The same on every platform. -#}

{% macro set_fraud_threshold(threshold, version=none, reason=none) -%}
    {#- The threshold of the champion (or of `version`): decisions change at once. The block
        band stays; a threshold above it is refused (apply_fraud_bands moves both). -#}
    {%- set schema = fraud_schema() -%}
    {%- set why = _fraud_reason_argument(reason, 'set_fraud_threshold') -%}
    {%- set t = _fraud_threshold_argument(threshold) -%}
    {%- set version = _fraud_deployed_version(version) -%}
    {%- set v = _fraud_registered_version(version) -%}
    {%- set row = run_query(
        "select deployments.role, deployments.block_threshold::text, (models.metadata ->> 'threshold')::float8"
        ~ " from " ~ schema ~ ".deployments as deployments"
        ~ " inner join " ~ schema ~ ".models as models on deployments.model_version = models.model_version"
        ~ " where deployments.model_version = " ~ v
    ).rows -%}
    {%- if not row -%}
        {{ exceptions.raise_compiler_error(version ~ " is not deployed") }}
    {%- endif -%}
    {%- set role, block = row[0][0], row[0][1] -%}
    {%- set review = (t | float) if t != 'null' else (row[0][2] if row[0][2] is not none else 0.5) -%}
    {%- if block is not none and review > (block | float) -%}
        {{ exceptions.raise_compiler_error(
            "threshold " ~ review ~ " of " ~ version ~ " would be above its block threshold " ~ block
            ~ ": set both with `dbt run-operation apply_fraud_bands --args '{reason: ..., review: R, block: B}'`"
        ) }}
    {%- endif -%}
    {%- set block_sql = fraud_quote_literal(block) ~ '::float8' if block is not none else 'null' -%}
    {%- do run_query(_fraud_deploy(schema, v, role, t, 'set_fraud_threshold', why, block_sql)) -%}
    {%- do run_query('commit') -%}
    {{ log("threshold of " ~ version ~ ": " ~ (threshold if t != 'null' else "the model's own"), info=true) }}
{%- endmacro %}
