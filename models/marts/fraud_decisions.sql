{#- The decision layer: the champion's probability against its bands, computed when
    read: approve below threshold, review from threshold, block from block_threshold (NULL:
    no block band, so every flagged transaction is reviewed, as before bands). Scores are
    the stored fact (fraud_scores); the bands and the champion live in the registry
    (fraud_deployments), so changing either changes every decision at once, and rescores
    nothing. -#}
{{ config(materialized='view') }}

with

scores as (

    select * from {{ ref('fraud_scores') }}

),

deployments as (

    select * from {{ ref('fraud_deployments') }}

),

final as (

    -- the columns bands added come last: CREATE OR REPLACE VIEW keeps the views built on this one
    select  -- noqa: ST06
        scores.transaction_id,
        scores.model_version,
        scores.fraud_probability,
        deployments.threshold,
        scores.scored_at,
        -- flagged: reviewed or blocked (least() skips a NULL block threshold; it is the
        -- threshold unless var fraud_threshold lifted the threshold above the block)
        scores.fraud_probability >= least(deployments.threshold, deployments.block_threshold) as is_fraud,
        -- reason codes were computed at scoring for probabilities at or above the
        -- lowest threshold known then; shown for flagged transactions only
        case
            when scores.fraud_probability >= least(deployments.threshold, deployments.block_threshold)
                then scores.reason_codes
        end as reason_codes,
        deployments.block_threshold,
        case
            when scores.fraud_probability >= deployments.block_threshold then 'block'
            when scores.fraud_probability >= deployments.threshold then 'review'
            else 'approve'
        end as decision
    from scores
    inner join deployments
        on
            scores.model_version = deployments.model_version
            and deployments.role = 'champion'

)

select * from final
