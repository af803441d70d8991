-- noqa: disable=ST03
-- (with var fraud_model_version the registry's CTEs go unused)
{#- The versions that score now and the one that decides: a view on the registry, so
    promoting, rolling back or changing a threshold (dbt run-operation
    promote_fraud_model / rollback_fraud_model / set_fraud_threshold) takes effect
    at once, without a dbt run and without rescoring. var fraud_model_version or
    fraud_model_path instead names the one model for this run, compiled in; var
    fraud_threshold overrides the champion's threshold, compiled in. -#}
{{ config(materialized='view') }}
{%- set explicit = var('fraud_model_version', '') or var('fraud_model_path', '') %}
{%- set forced = var('fraud_threshold', none) %}

with

deployments as (

    select * from {{ ref('stg_fraud__deployments') }}

),

models as (

    select * from {{ ref('stg_fraud__models') }}

),

final as (

    {%- if explicit %}
        {%- set model = fraud_selected_model() %}
        select
            {{ fraud_quote_literal(model.version) }}::text as model_version,
            'champion'::text as role,
            {{ model.threshold }}::float8 as threshold,
            'var fraud_model_version or fraud_model_path'::text as changed_by,
            now() as changed_at,
            null::float8 as block_threshold
    {%- else %}
        select
            deployments.model_version,
            deployments.role,
            {% if forced is not none and forced != '' -%}
                case
                    when deployments.role = 'champion' then {{ fraud_threshold(0.5) }}::float8
                    else coalesce(deployments.deployed_threshold, models.model_threshold, 0.5)
                end
            {%- else -%}
                coalesce(deployments.deployed_threshold, models.model_threshold, 0.5)
            {%- endif %} as threshold,
            deployments.changed_by,
            deployments.changed_at,
            deployments.block_threshold
        from deployments
        inner join models on deployments.model_version = models.model_version
    {%- endif %}

)

select * from final
