with

source as (

    select * from {{ source('raw', 'credit_card') }}

),

renamed as (

    select
        ---------- ids
        transaction_id,

        ---------- numerics
        time as seconds_since_start,
        {% for column in fraud_feature_columns() -%}
            {{ column }},
        {% endfor -%}
        amount,

        ---------- labels
        class = 1 as is_labeled_fraud,

        ---------- features for scoring, packed once
        {{ pack_features(fraud_feature_columns()) }} as features,

        ---------- whether every feature becomes a finite float4 (else fraud_quarantine lists it)
        coalesce(
            {%- for column in fraud_feature_columns() %}
                {{ fraud_float4_ok(column) }}{{ ' and' if not loop.last }}
            {%- endfor %},
            false
        ) as has_scorable_features

    from source

)

select * from renamed
