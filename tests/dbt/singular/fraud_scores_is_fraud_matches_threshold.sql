-- is_fraud is exactly fraud_probability >= the threshold in force.
{%- set model = fraud_selected_model() %}

with

scores as (

    select * from {{ ref('fraud_scores') }}

),

final as (

    select *
    from scores
    where
        model_version = {{ fraud_quote_literal(model.version) }}
        and is_fraud is distinct from (fraud_probability >= {{ model.threshold }})

)

select * from final
