{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook=["{{ fraud_drop_stacks_of_replaced_source() }}", "{{ fraud_restack_changed_batches() }}"],
        fraud_distributed_by='batch_id',
        post_hook="{{ fraud_distribute_stacks() }}",
    )
}}
{#- Stacks, packed once when their transactions arrive: each row is one batch
    of at most fraud_batch_rows transactions, their ids (transaction_ids) and the
    stack the scoring function reads (per transaction: int8send(id) followed by
    the 112 bytes of packed features). Scoring a new model version reads these
    rows, a few per million transactions, and repacks nothing.

    Incremental: a run stacks the transactions above the highest id stacked so
    far (the loader numbers appended rows after the current maximum). When the
    raw table was replaced or truncated since (source_table_id), its stacks are
    dropped first and everything is stacked again. A stack whose source rows were
    deleted, or inserted between its ids, is stacked again (PostgreSQL; an
    index-only count per stack). A source row corrected in place needs
    `dbt run --full-refresh --select int_credit_card__scoring_stacks+`. -#}

with

{{ fraud_stack_transactions(
    ref('stg_raw__credit_card'),
    fraud_batch_rows(),
    last_stacked_sql=("select max(last_transaction_id) from " ~ this) if is_incremental() else none,
) }}

select * from final
