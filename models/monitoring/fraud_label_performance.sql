{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        fraud_distributed_by='transaction_day',
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
        (labels.labeled_at at time zone 'UTC')::date as label_date
    from {{ ref('stg_fraud__labels') }} as labels
    inner join {{ ref('stg_raw__credit_card') }} as staged
        on labels.transaction_id = staged.transaction_id
    inner join days_todo
        on floor(staged.seconds_since_start / 86400)::integer = days_todo.transaction_day
    -- checked once, before the join runs: with no label at all, the planner may still hash
    -- every source row to meet them (an empty table it has never analyzed is estimated at
    -- thousands of rows; Greenplum spent 2 s a run on 2,000,000 rows this way)
    where exists (select 1 from {{ ref('stg_fraud__labels') }})

),

as_of_dates as (

    select distinct
        events.transaction_day,
        events.label_date as as_of_date
    from events
    inner join days_todo on events.transaction_day = days_todo.transaction_day
    where events.label_date >= days_todo.from_date

),

intervals as (

    -- each event holds from its date until the date of the transaction's next event (a
    -- correction): known at D when label_date <= D < next_date. Of two events on one date the
    -- earlier holds for no date (next_date = label_date). One sort of the events, instead of
    -- picking the latest event per transaction at every as-of date.
    select
        transaction_id,
        transaction_day,
        is_fraud,
        amount,
        label_date,
        lead(label_date) over (partition by transaction_id order by labeled_at) as next_date
    from events

),

scored_intervals as (

    -- joined with the scores once per event, before the as-of dates multiply the rows (offset 0
    -- keeps the planner from moving this join after that one), with what each row carries
    select
        todo.model_version,
        todo.from_date,
        todo.labels_loaded_through,
        state.threshold,
        state.scored_rows,
        state.scores_scored_at,
        intervals.transaction_day,
        intervals.is_fraud,
        intervals.amount,
        intervals.label_date,
        intervals.next_date,
        scores.fraud_probability,
        scores.fraud_probability >= state.threshold as is_flagged
    from intervals
    inner join todo on intervals.transaction_day = todo.transaction_day
    inner join state
        on
            todo.model_version = state.model_version
            and todo.transaction_day = state.transaction_day
    inner join {{ ref('fraud_scores') }} as scores
        on
            intervals.transaction_id = scores.transaction_id
            and todo.model_version = scores.model_version
    where intervals.next_date is null or intervals.next_date > intervals.label_date
    offset 0  -- noqa: AM09

),

labeled as (

    select
        scored_intervals.model_version,
        scored_intervals.transaction_day,
        as_of_dates.as_of_date,
        scored_intervals.threshold,
        scored_intervals.scored_rows,
        scored_intervals.scores_scored_at,
        scored_intervals.labels_loaded_through,
        scored_intervals.is_fraud,
        scored_intervals.amount,
        scored_intervals.fraud_probability,
        scored_intervals.is_flagged
    from scored_intervals
    inner join as_of_dates
        on
            scored_intervals.transaction_day = as_of_dates.transaction_day
            and scored_intervals.label_date <= as_of_dates.as_of_date
            and scored_intervals.from_date <= as_of_dates.as_of_date
    where scored_intervals.next_date is null or scored_intervals.next_date > as_of_dates.as_of_date

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
        threshold,
        scored_rows,
        scores_scored_at,
        labels_loaded_through,
        count(*) as labeled_rows,
        count(*) filter (where is_fraud) as labeled_frauds,
        count(*) filter (where is_flagged) as flagged,
        count(*) filter (where is_flagged and is_fraud) as true_positives,
        avg(precision_at_fraud) as pr_auc,
        coalesce(sum(amount) filter (where is_flagged and is_fraud), 0) as amount_caught,
        coalesce(sum(amount) filter (where not is_flagged and is_fraud), 0) as amount_missed
    from ranked
    group by
        model_version, transaction_day, as_of_date, threshold, scored_rows, scores_scored_at, labels_loaded_through

),

final as (

    select
        model_version,
        transaction_day,
        ((
            {{ fraud_time_origin() }} + transaction_day * interval '1 day'
        ) at time zone 'UTC')::date as transaction_date,
        as_of_date,
        threshold,
        scored_rows,
        labeled_rows,
        labeled_rows::float8 / scored_rows as label_coverage,
        labeled_frauds,
        flagged,
        true_positives,
        true_positives::float8 / nullif(flagged, 0) as precision,
        true_positives::float8 / nullif(labeled_frauds, 0) as recall,
        pr_auc,
        amount_caught::float8 as amount_caught,
        amount_missed::float8 as amount_missed,
        scores_scored_at,
        labels_loaded_through
    from aggregated

)

select * from final
