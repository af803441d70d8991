{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook=["{{ fraud_label_performance_changes() }}"],
    )
}}
{#- Performance as labels land (docs/labels.md): per model version, day of the data and as-of
    date, the metrics computed only from the labels known at the end of that date (UTC): for
    each transaction, its latest label event with labeled_at on or before it. A row per date on
    which a label event of the day's transactions landed; the metrics at any other date are the
    row with the latest as_of_date on or before it. Incremental: fraud_label_performance_changes
    deletes the rows that new label events, new scores or a changed threshold make stale, and
    this query recomputes those alone (pg_temp.fraud_label_performance_todo); a full build
    computes every row. -#}

with

state as (

    {{ fraud_label_performance_state() | indent(4) }}

),

todo as (

    {% if is_incremental() -%}
        select * from pg_temp.fraud_label_performance_todo
    {%- else -%}
        select
            model_version,
            transaction_day,
            '-infinity'::date as from_date,
            (
                select max(loaded.loaded_at) from {{ source('raw', 'credit_card_labels') }} as loaded
            ) as labels_loaded_through
        from state
    {%- endif %}

),

days_todo as (

    select
        transaction_day,
        min(from_date) as from_date
    from todo
    group by transaction_day

),

events as (

    select
        labels.transaction_id,
        labels.is_fraud,
        labels.labeled_at,
        staged.amount,
        days_todo.transaction_day,
        days_todo.from_date,
        (labels.labeled_at at time zone 'UTC')::date as label_date
    from {{ ref('stg_fraud__labels') }} as labels
    inner join {{ ref('stg_raw__credit_card') }} as staged
        on labels.transaction_id = staged.transaction_id
    inner join days_todo
        on floor(staged.seconds_since_start / 86400)::integer = days_todo.transaction_day

),

as_of_dates as (

    select distinct
        transaction_day,
        label_date as as_of_date
    from events
    where label_date >= from_date

),

known_events as (

    -- every event known at each as-of date, the latest per transaction first
    select
        as_of_dates.transaction_day,
        as_of_dates.as_of_date,
        events.transaction_id,
        events.is_fraud,
        events.amount,
        row_number() over (
            partition by as_of_dates.transaction_day, as_of_dates.as_of_date, events.transaction_id
            order by events.labeled_at desc
        ) as recency
    from as_of_dates
    inner join events
        on
            as_of_dates.transaction_day = events.transaction_day
            and as_of_dates.as_of_date >= events.label_date

),

labeled as (

    select
        todo.model_version,
        known_events.transaction_day,
        known_events.as_of_date,
        known_events.is_fraud,
        known_events.amount,
        scores.fraud_probability,
        scores.fraud_probability >= state.threshold as is_flagged
    from known_events
    inner join todo
        on
            known_events.transaction_day = todo.transaction_day
            and known_events.as_of_date >= todo.from_date
    inner join state
        on
            todo.model_version = state.model_version
            and todo.transaction_day = state.transaction_day
    inner join {{ ref('fraud_scores') }} as scores
        on
            known_events.transaction_id = scores.transaction_id
            and todo.model_version = scores.model_version
    where known_events.recency = 1

),

ranked as (

    select
        *,
        case
            when is_fraud
                then
                    count(*) filter (where is_fraud) over (
                        partition by model_version, transaction_day, as_of_date
                        order by fraud_probability desc
                    )::float8
                    / count(*) over (
                        partition by model_version, transaction_day, as_of_date
                        order by fraud_probability desc
                    )
        end as precision_at_fraud
    from labeled

),

aggregated as (

    select
        model_version,
        transaction_day,
        as_of_date,
        count(*) as labeled_rows,
        count(*) filter (where is_fraud) as labeled_frauds,
        count(*) filter (where is_flagged) as flagged,
        count(*) filter (where is_flagged and is_fraud) as true_positives,
        avg(precision_at_fraud) as pr_auc,
        coalesce(sum(amount) filter (where is_flagged and is_fraud), 0) as amount_caught,
        coalesce(sum(amount) filter (where not is_flagged and is_fraud), 0) as amount_missed
    from ranked
    group by model_version, transaction_day, as_of_date

),

final as (

    select
        aggregated.model_version,
        aggregated.transaction_day,
        ((
            {{ fraud_time_origin() }} + aggregated.transaction_day * interval '1 day'
        ) at time zone 'UTC')::date as transaction_date,
        aggregated.as_of_date,
        state.threshold,
        state.scored_rows,
        aggregated.labeled_rows,
        aggregated.labeled_rows::float8 / state.scored_rows as label_coverage,
        aggregated.labeled_frauds,
        aggregated.flagged,
        aggregated.true_positives,
        aggregated.true_positives::float8 / nullif(aggregated.flagged, 0) as precision,
        aggregated.true_positives::float8 / nullif(aggregated.labeled_frauds, 0) as recall,
        aggregated.pr_auc,
        aggregated.amount_caught::float8 as amount_caught,
        aggregated.amount_missed::float8 as amount_missed,
        state.scores_scored_at,
        todo.labels_loaded_through
    from aggregated
    inner join state
        on
            aggregated.model_version = state.model_version
            and aggregated.transaction_day = state.transaction_day
    inner join todo
        on
            aggregated.model_version = todo.model_version
            and aggregated.transaction_day = todo.transaction_day

)

select * from final
