{#- What a fraud analyst reviews: every transaction in the champion's review band (every
    flagged one while the champion has no block band), with the three features that pushed
    its probability up most (gradient x input, in log-odds) and the transaction's own
    fields. Blocked transactions are decided without review: fraud_decisions has them. -#}
{{ config(materialized='view') }}

with

decisions as (

    select * from {{ ref('fraud_decisions') }}

),

transactions as (

    select * from {{ ref('stg_raw__credit_card') }}

),

final as (

    select
        decisions.transaction_id,
        decisions.model_version,
        decisions.fraud_probability,
        decisions.threshold,
        {%- for i in range(3) %}
            decisions.reason_codes -> {{ i }} ->> 'feature' as reason_{{ i + 1 }}_feature,
            (decisions.reason_codes -> {{ i }} ->> 'contribution')::float8 as reason_{{ i + 1 }}_contribution,
        {%- endfor %}
        transactions.seconds_since_start,
        transactions.amount,
        decisions.scored_at,
        decisions.block_threshold
    from decisions
    inner join transactions on decisions.transaction_id = transactions.transaction_id
    where decisions.decision = 'review'

)

select * from final
