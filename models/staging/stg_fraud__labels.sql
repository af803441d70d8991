{#- The label events, one row per (transaction, event): a later labeled_at for the same
    transaction corrects an earlier label (docs/labels.md). -#}
with

source as (

    select * from {{ source('raw', 'credit_card_labels') }}

),

renamed as (

    select
        transaction_id::bigint as transaction_id,
        is_fraud::boolean as is_fraud,
        labeled_at::timestamptz as labeled_at
    from source

)

select * from renamed
