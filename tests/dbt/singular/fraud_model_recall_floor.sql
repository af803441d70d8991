-- Warn when the selected model's recall on labeled rows is below var fraud_recall_floor.
{{ config(severity='warn') }}
{%- set model = fraud_selected_model() %}

with

metrics as (

    select * from {{ ref('fraud_model_metrics') }}

),

final as (

    select *
    from metrics
    where
        model_version = {{ fraud_quote_literal(model.version) }}
        and transaction_day is null
        and coalesce(recall, 0) < {{ var('fraud_recall_floor', 0.5) | float }}

)

select * from final
