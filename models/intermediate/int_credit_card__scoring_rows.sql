{{
    config(
        materialized='fraud_scoring_rows',
        unique_key='transaction_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook="{{ fraud_distribute_by_batch() }}",
    )
}}
{#- Each transaction's scoring row, in its batch: what fraud_scores stacks.
    materialized='fraud_scoring_rows' (macros/fraud_materialization.sql): a view
    on PostgreSQL; on Greenplum / Cloudberry an incremental table that the
    post-hook distributes by batch_id, so each segment stacks and scores its own
    batches without moving a row. -#}

with

staged as (

    select
        staged.transaction_id,
        staged.features
    from {{ ref('stg_raw__credit_card') }} as staged
    {%- if fraud_rows_incremental() %}
        -- only new transactions: rows packed before keep their bytes and batch
        -- (a corrected raw row needs --full-refresh of this model and fraud_scores)
        where not exists (
            select 1
            from {{ this }} as packed
            where packed.transaction_id = staged.transaction_id
        )
    {%- endif %}

),

batched as (

    select
        transaction_id,
        -- batches are ranges of fraud_batch_rows consecutive ids: ids are unique
        -- integers, so a batch holds at most that many rows, and no sort or
        -- window numbers them. batch_rows is kept: a run with another
        -- fraud_batch_rows never mixes two sizes in one group.
        {{ fraud_batch_rows() }} as batch_rows,
        transaction_id / {{ fraud_batch_rows() }} as batch_id,
        -- the stack's row: the id travels with the features it was scored from
        int8send(transaction_id) || features as scoring_row
    from staged

)

select * from batched
