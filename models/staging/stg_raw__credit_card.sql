{#- One SELECT, no CTEs (unlike the other staging views): Greenplum 7 does not pull a CTE
    inside a view up into the query that reads the view, so every query through it computed
    every column for every row, the packed features included, even one asking for two
    columns (counting seconds_since_start through it took 3.6 s a segment of 1,000,000 rows,
    through this form 0.46 s, as the table itself: the features are then computed only where
    read). PostgreSQL inlines either form. -#}
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

from {{ source('raw', 'credit_card') }}
