with

source as (

    select * from {{ source('fraud', 'models') }}

),

renamed as (

    select
        ---------- ids
        model_version,
        model_name,
        sha256,

        ---------- timestamps
        registered_at,

        ---------- what the model was trained with (not its bytes)
        (metadata ->> 'threshold')::float8 as model_threshold,
        metadata ->> 'threshold_rule' as threshold_rule,
        metadata -> 'features' as features,
        metadata -> 'holdout_metrics' as holdout_metrics,
        -- the score distribution drift is measured against (training writes it; NULL for a
        -- model trained before training wrote one)
        metadata -> 'reference_scores' as reference_scores,
        -- the input distribution feature drift is measured against: per feature, bin edges and
        -- the training rows' counts (fraud_scoring.feature_bins; NULL for an older model)
        metadata -> 'reference_features' as reference_features

    from source

)

select * from renamed
