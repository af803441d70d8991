{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook=[
            "{{ fraud_stacking_begin() }}",
            "{{ fraud_drop_stacks_of_replaced_source() }}",
            "{{ fraud_restack_changed_batches() }}",
        ],
        fraud_distributed_by='batch_id',
        fraud_append_through_view=['postgres'],
        post_hook=[
            "{{ fraud_distribute_stacks() }}",
            "{{ fraud_stack_keys() }}",
            "{{ fraud_record_source_read() }}",
        ],
        fraud_before_transaction="{{ fraud_register_source_reader() }}",
        fraud_after_commit="{{ fraud_forget_read_source_writes() }}",
    )
}}
{#- Stacks, packed once when their transactions arrive: each row is one stack of at
    most fraud_batch_rows transactions, their ids (transaction_ids) and the stack the
    scoring function reads (per transaction: int8send(id) followed by the 112 bytes of
    packed features). Scoring a new model version reads these rows, a few per million
    transactions, and repacks nothing.

    Incremental (docs/reliability.md): one stacking transaction at a time, reading the
    source as of one snapshot, which it records. On PostgreSQL a run finds every row
    written since the last stacking by commit order (its xmin against that snapshot)
    and every range that lost rows (a count per stack): a stored stack holding such a
    row is stacked again (pre-hook), a row outside every stack goes into a new one
    (below). On Greenplum / Cloudberry a run stacks the ids above the highest stacked.
    A replaced or truncated source is stacked anew.
    Without JIT, as every model (fraud_without_jit). -#}

{{ fraud_stack_transactions(
    ref('stg_raw__credit_card'),
    fraud_batch_rows(),
    stacks=this if is_incremental() else none,
) }}
