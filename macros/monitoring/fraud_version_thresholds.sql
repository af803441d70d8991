{#- The threshold each version with a registry entry is measured at. The same on every platform. -#}

{% macro fraud_version_thresholds(deployments, models) -%}
    {#- A query of model_version, role and threshold: deployed versions (`deployments`,
        fraud_deployments) at the threshold in force, the others (`models`, stg_fraud__models)
        as 'not deployed' at their own (0.5 when their metadata has none). -#}
    select
        model_version,
        role,
        threshold
    from {{ deployments }}
    union all
    select
        models.model_version,
        'not deployed' as role,
        coalesce(models.model_threshold, 0.5) as threshold
    from {{ models }} as models
    where not exists (
        select 1 from {{ deployments }} as deployed
        where deployed.model_version = models.model_version
    )
{%- endmacro %}
