{#- Each transaction's label as known now, for the models that judge scores by it
    (fraud_model_metrics, fraud_band_recommendation). The same on every platform. -#}

{% macro fraud_labels_known_now() -%}
    {#- SQL selecting (transaction_id, is_fraud): each labeled transaction's latest label
        event in stg_fraud__labels (a later event corrects an earlier one: docs/labels.md);
        while no label event is loaded at all, the raw table's Kaggle class, as before labels
        had a source. -#}
    select
        events.transaction_id,
        events.is_fraud
    from (
        select
            transaction_id,
            is_fraud,
            row_number() over (partition by transaction_id order by labeled_at desc) as recency
        from {{ ref('stg_fraud__labels') }}
    ) as events
    where events.recency = 1
    union all
    select
        class_labels.transaction_id,
        class_labels.is_labeled_fraud as is_fraud
    from {{ ref('stg_raw__credit_card') }} as class_labels
    where
        class_labels.is_labeled_fraud is not null
        and not exists (select 1 from {{ ref('stg_fraud__labels') }})
{%- endmacro %}
