-- Every staged transaction is scored exactly once, by the selected model version.
{%- set model = fraud_selected_model() %}

with

staged as (

    select transaction_id from {{ ref('stg_raw__credit_card') }}

),

scores as (

    select * from {{ ref('fraud_scores') }}

),

final as (

    select
        staged.transaction_id,
        scores.model_version,
        count(scores.transaction_id) as times_scored
    from staged
    left join scores on staged.transaction_id = scores.transaction_id
    group by staged.transaction_id, scores.model_version
    having
        count(scores.transaction_id) != 1
        or scores.model_version is distinct from {{ fraud_quote_literal(model.version) }}

)

select * from final
