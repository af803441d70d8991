-- is_fraud is exactly fraud_probability >= the threshold in force, for the champion in force.
{%- set model = fraud_selected_model() %}

with

decisions as (

    select * from {{ ref('fraud_decisions') }}

),

final as (

    select *
    from decisions
    where
        model_version != {{ fraud_quote_literal(model.version) }}
        or is_fraud is distinct from (fraud_probability >= {{ model.threshold }})

)

select * from final
