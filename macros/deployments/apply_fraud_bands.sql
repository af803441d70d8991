-- sqlfluff:exclude_rules:LT02
-- (a macro of Jinja only, whose nested branches the indentation rule reads as SQL)
{#- dbt run-operation apply_fraud_bands --args '{reason: WHY, review: R, block: B}': a deployed
    version's bands (approve below R, review from R, block from B; block null: no block band),
    the champion's unless `version` is named. Without review and block: the champion's
    recommended bands (fraud_band_options, costed with this command's vars). Run by the
    registry's owner (a superuser by default): it changes {schema}.deployments, appends to
    {schema}.deployment_history and records old and new values, who and why in
    {schema}.threshold_audit in one transaction; decisions follow at once, nothing is
    rescored. The same on every platform. -#}

{% macro apply_fraud_bands(reason=none, review=none, block=none, version=none) -%}
    {#- Set the bands, or apply the recommendation; every argument checked before anything
        is written. -#}
    {%- set schema = fraud_schema() -%}
    {%- set why = _fraud_reason_argument(reason, none) -%}
    {%- if review is none and block is none -%}
        {%- if version is not none -%}
            {{ exceptions.raise_compiler_error(
                "the recommendation is the champion's: name review (and block) to set the bands of " ~ version
            ) }}
        {%- endif -%}
        {%- set version = _fraud_deployed_version(none) -%}
        {%- set bands = _fraud_recommended_bands() -%}
        {%- set review_sql = bands.review -%}
        {%- set block_sql = bands.block -%}
        {%- set why = fraud_quote_literal(
            reason ~ " (recommended: expected cost " ~ bands.cost ~ ", " ~ bands.per_day ~ " reviews a day)"
        ) -%}
    {%- else -%}
        {%- if review is none -%}
            {{ exceptions.raise_compiler_error(
                "review is required with block: name both (block null: no block band)"
            ) }}
        {%- endif -%}
        {%- set review_value = fraud_checked_threshold(review, 'review') -%}
        {%- set block_value = fraud_checked_threshold(block, 'block') if block is not none else none -%}
        {%- if block_value is not none and review_value > block_value -%}
            {{ exceptions.raise_compiler_error(
                "review (" ~ review ~ ") must not be above block (" ~ block ~ "): equal means no review band"
            ) }}
        {%- endif -%}
        {%- set review_sql = review_value | string -%}
        {%- set block_sql = (block_value | string) if block_value is not none else 'null' -%}
        {%- set version = _fraud_deployed_version(version) -%}
    {%- endif -%}
    {%- set v = _fraud_registered_version(version) -%}
    {%- set rows = run_query("select role from " ~ schema ~ ".deployments where model_version = " ~ v).rows -%}
    {%- if not rows -%}
        {{ exceptions.raise_compiler_error(version ~ " is not deployed") }}
    {%- endif -%}
    {%- do run_query(_fraud_deploy(schema, v, rows[0][0], review_sql, 'apply_fraud_bands', why, block_sql)) -%}
    {%- do run_query('commit') -%}
    {%- set shown = "review from " ~ review_sql ~ ", block from " ~ block_sql -%}
    {{ log("bands of " ~ version ~ ": " ~ (shown | replace("::float8", "") | replace("'", "")), info=true) }}
{%- endmacro %}
