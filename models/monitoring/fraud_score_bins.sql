{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        fraud_distributed_by='stack_id',
        fraud_jit_in_full_builds=true,
        pre_hook=["{{ fraud_score_bins_begin() }}", "{{ fraud_score_bins_changes() }}"],
    )
}}
{#- The mergeable monitoring aggregate the Python monitoring models and the drift model read
    instead of the scores (docs/monitoring.md): per model version, stored stack, day of the
    data and fine score bin (fraud_probability_bin: log-scale towards 0 and 1, 0.1% wide),
    the count of scores, the sum of their probabilities and their labels. Sums over stacks give any day's
    distribution, mean, quantiles (within one fine bin), PR-AUC (within a bound computed from
    the bins) and PSI; `tenth` splits a fine bin at the tenths, so the 0.1-wide histogram is
    exact.
    Per stack, because every stack's scores by a version are written by one statement and a
    changed stack gets a new stack_id: an incremental run aggregates the pairs (version,
    stack) with scores newer than the newest it holds, and deletes the rows of pairs whose
    scores are gone (fraud_score_bins_changes), reading a few thousand scores at an arrival
    instead of all of them.
    The invariant (tests/python/test_monitoring.py): after a dbt run, this table equals the
    same aggregate recomputed from fraud_scores, the stored stacks and the labels. -#}

with

scored_rows as (

    -- incremental: each new pair's scores with their labels (fraud_score_bins_new_scores:
    -- on PostgreSQL through the stack's key ranges); a pair already held is skipped, so a
    -- scoring run committing between the pre-hook and this query (Greenplum, read
    -- committed) cannot be aggregated twice. A full build: the
    -- scores of every stored stack (a score of a stack no longer stored is deleted by the
    -- next scoring run).
    select
        scored.model_version,
        scored.stack_id,
        scored.fraud_probability,
        scored.scored_at,
        scored.is_labeled_fraud,
        floor(scored.seconds_since_start / 86400)::integer as transaction_day
    {% if is_incremental() -%}
        from {{ fraud_score_bins_new_scores(
            'pg_temp.fraud_score_bins_new', ref('int_credit_card__scoring_stacks'),
            ref('fraud_scores'), ref('stg_raw__credit_card')
        ) | indent(8) }}
        where not exists (
            select 1 from {{ this }} as aggregated
            where
                aggregated.model_version = new_pairs.model_version
                and aggregated.stack_id = new_pairs.stack_id
        )
    {%- else -%}
        from (
            {{ fraud_scores_with_labels(ref('fraud_scores'), ref('stg_raw__credit_card')) | indent(12) }}
        ) as scored
        where exists (
            select 1 from {{ ref('int_credit_card__scoring_stacks') }} as stacked
            where stacked.stack_id = scored.stack_id
        )
    {%- endif %}

),

final as (

    select
        model_version,
        stack_id,
        transaction_day,
        {{ fraud_probability_bin('fraud_probability') }} as probability_bin,
        least(floor(fraud_probability * 10), 9)::smallint as tenth,
        count(*) as scored_rows,
        sum(fraud_probability) as sum_probability,
        count(is_labeled_fraud) as labeled_rows,
        count(*) filter (where is_labeled_fraud) as labeled_frauds,
        max(scored_at) as scored_at
    from scored_rows
    group by 1, 2, 3, 4, 5

)

select * from final
