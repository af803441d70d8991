{#- Champion and challengers compared on labeled transactions (each one's latest label event in
    stg_fraud__labels; the raw table's class while no label event is loaded): per model version,
    over all days (transaction_day NULL) and per day of the data (Time / 86,400),
    at each version's threshold. A view, computed when read: as a table, every
    `dbt run` re-joined every score with its label (1.7 s at 2M rows). Like any
    view on a table that a full refresh replaces, it is rebuilt by selecting it too:
    `dbt run --select fraud_scores+ --full-refresh`. pr_auc is the average precision
    (the mean, over the frauds, of the precision among the transactions scored at
    least as high). -#}
{{ config(materialized='view') }}

with

scores as (

    select * from {{ ref('fraud_scores') }}

),

labels as (

    -- each transaction's label known now (its latest label event: docs/labels.md)
    select
        staged.transaction_id,
        known.is_fraud as is_labeled_fraud,
        floor(staged.seconds_since_start / 86400)::integer as transaction_day
    from ({{ fraud_labels_known_now() | indent(8) }}) as known
    inner join {{ ref('stg_raw__credit_card') }} as staged
        on known.transaction_id = staged.transaction_id

),

thresholds as (

    -- every version with scores: deployed ones at their threshold, others at their own
    {{ fraud_version_thresholds(ref('fraud_deployments'), ref('stg_fraud__models')) | indent(4) }}

),

labeled as (

    select
        scores.model_version,
        thresholds.role,
        thresholds.threshold,
        labels.transaction_day,
        labels.is_labeled_fraud,
        scores.fraud_probability >= thresholds.threshold as is_flagged,
        case
            when labels.is_labeled_fraud
                then
                    count(*) filter (where labels.is_labeled_fraud) over (
                        partition by scores.model_version order by scores.fraud_probability desc
                    )::float8
                    / count(*) over (partition by scores.model_version order by scores.fraud_probability desc)
        end as precision_at_fraud,
        case
            when labels.is_labeled_fraud
                then
                    count(*) filter (where labels.is_labeled_fraud) over (
                        partition by scores.model_version, labels.transaction_day
                        order by scores.fraud_probability desc
                    )::float8
                    / count(*) over (
                        partition by scores.model_version, labels.transaction_day
                        order by scores.fraud_probability desc
                    )
        end as day_precision_at_fraud
    from scores
    inner join labels on scores.transaction_id = labels.transaction_id
    inner join thresholds on scores.model_version = thresholds.model_version

),

confusion as (

    select
        model_version,
        role,
        threshold,
        transaction_day,
        count(*) as labeled_rows,
        count(*) filter (where is_flagged) as flagged,
        count(*) filter (where is_flagged and is_labeled_fraud) as true_positives,
        count(*) filter (where is_flagged and not is_labeled_fraud) as false_positives,
        count(*) filter (where not is_flagged and is_labeled_fraud) as false_negatives,
        count(*) filter (where not is_flagged and not is_labeled_fraud) as true_negatives,
        case
            when grouping(transaction_day) = 1 then avg(precision_at_fraud) else avg(day_precision_at_fraud)
        end as pr_auc
    from labeled
    group by grouping sets ((model_version, role, threshold), (model_version, role, threshold, transaction_day))

),

final as (

    select
        model_version,
        role,
        threshold,
        transaction_day,
        labeled_rows,
        flagged,
        true_positives,
        false_positives,
        false_negatives,
        true_negatives,
        pr_auc,
        true_positives::float8 / nullif(true_positives + false_positives, 0) as precision,
        true_positives::float8 / nullif(true_positives + false_negatives, 0) as recall,
        2.0 * true_positives / nullif(2 * true_positives + false_positives + false_negatives, 0) as f1
    from confusion

)

select * from final
