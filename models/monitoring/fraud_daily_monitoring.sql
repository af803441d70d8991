{#- Per deployed version and day: the score distribution and the PR-AUC, both computed
    by Python models (SQL building on Python), with the version's role. A view. -#}
{{ config(materialized='view') }}

with

distribution as (

    select * from {{ ref('fraud_score_distribution') }}

),

pr_auc as (

    select * from {{ ref('fraud_pr_auc_daily') }}

),

deployments as (

    select * from {{ ref('fraud_deployments') }}

),

final as (

    select
        distribution.model_version,
        deployments.role,
        distribution.transaction_day,
        distribution.scored_rows,
        distribution.mean_probability,
        distribution.p99_probability,
        pr_auc.labeled_frauds,
        pr_auc.pr_auc,
        distribution.histogram_10::float8 / distribution.scored_rows as flagged_share_at_0_9
    from distribution
    inner join deployments on distribution.model_version = deployments.model_version
    left join pr_auc
        on
            distribution.model_version = pr_auc.model_version
            and distribution.transaction_day = pr_auc.transaction_day

)

select * from final
