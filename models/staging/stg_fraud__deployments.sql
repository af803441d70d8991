with

source as (

    select * from {{ source('fraud', 'deployments') }}

),

renamed as (

    select
        ---------- ids
        model_version,

        ---------- the deployment
        role,
        threshold as deployed_threshold,
        block_threshold,
        changed_by,

        ---------- timestamps
        changed_at

    from source

)

select * from renamed
