{#- The decision layer: the champion's probability against its threshold, computed
    when read. Scores are the stored fact (fraud_scores); the threshold and the
    champion live in the registry (fraud_deployments), so changing either changes
    every decision at once, and rescores nothing. -#}
{{ config(materialized='view') }}

with

scores as (

    select * from {{ ref('fraud_scores') }}

),

deployments as (

    select * from {{ ref('fraud_deployments') }}

),

final as (

    select
        scores.transaction_id,
        scores.model_version,
        scores.fraud_probability,
        deployments.threshold,
        scores.scored_at,
        scores.fraud_probability >= deployments.threshold as is_fraud,
        -- reason codes were computed at scoring for probabilities at or above the
        -- lowest threshold known then; shown for flagged transactions only
        case when scores.fraud_probability >= deployments.threshold then scores.reason_codes end as reason_codes
    from scores
    inner join deployments
        on
            scores.model_version = deployments.model_version
            and deployments.role = 'champion'

)

select * from final
