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
        metadata -> 'holdout_metrics' as holdout_metrics

    from source

)

select * from renamed
