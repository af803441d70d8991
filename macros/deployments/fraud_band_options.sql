-- sqlfluff:exclude_rules:LT02
-- (the macro returns a query that a model and an operation embed)
{#- The band options of the champion, costed on its recent labeled scores: what the model
    fraud_band_recommendation shows and what apply_fraud_bands applies, one query for both so
    the operation costs with its own vars, never a stale build. docs/operating.md defines the
    cost. The same on every platform: plain joins and aggregates, no LATERAL. -#}

{% macro fraud_band_options() -%}
    {#- One row per candidate (review, block) pair: candidates are score quantiles of the
        window's rows (fractions 1 - 10^(-5 i / (k - 1)), i = 0 .. k - 1, dense in the upper
        tail where frauds are), block may also be NULL (no block band). -#}
    {%- set s = fraud_band_settings() -%}
    {%- set k = s.candidates -%}
with

champion as (

    select model_version from {{ ref('fraud_deployments') }}
    where role = 'champion'

),

-- each transaction's label known now (its latest label event: docs/labels.md)
labels as (

    {{ fraud_labels_known_now() | indent(4) }}

),

transactions as (

    select
        transaction_id,
        amount,
        floor(seconds_since_start / 86400)::integer as transaction_day
    from {{ ref('stg_raw__credit_card') }}

),

labeled as (

    select
        scores.model_version,
        scores.fraud_probability,
        labels.is_fraud,
        transactions.amount,
        transactions.transaction_day
    from {{ ref('fraud_scores') }} as scores
    inner join champion on scores.model_version = champion.model_version
    inner join labels on scores.transaction_id = labels.transaction_id
    inner join transactions on scores.transaction_id = transactions.transaction_id

),

window_bounds as (

    -- the last fraud_band_window_days days of the data that have labeled scores
    select
        max(transaction_day) - {{ s.window_days - 1 }} as first_day,
        max(transaction_day) as last_day
    from labeled

),

in_window as (

    select labeled.*
    from labeled
    inner join window_bounds on labeled.transaction_day >= window_bounds.first_day

),

quantiles as (

    select
        unnest(
            percentile_disc(array[
                {%- for i in range(k) %}
                1 - power(10::float8, -5.0::float8 * {{ i }} / {{ k - 1 }}){{ ',' if not loop.last }}
                {%- endfor %}
            ]) within group (order by fraud_probability)
        ) as threshold
    from in_window

),

candidates as (

    -- a threshold is stored strictly between 0 and 1 (the deployments' check)
    select
        threshold,
        row_number() over (order by threshold) as candidate
    from (select distinct threshold from quantiles where threshold > 0 and threshold < 1) as distinct_quantiles

),

edges as (

    select array_agg(threshold order by threshold) as thresholds from candidates

),

buckets as (

    -- per day and bucket i: at or above candidate i and below candidate i + 1 (0: below the
    -- first); a few hundred rows, all the rest reads
    select
        width_bucket(in_window.fraud_probability, edges.thresholds) as bucket,
        in_window.transaction_day,
        count(*) as transactions,
        count(*) filter (where in_window.is_fraud) as frauds,
        count(*) filter (where not in_window.is_fraud) as legit,
        coalesce(sum(in_window.amount) filter (where in_window.is_fraud), 0) as fraud_amount
    from in_window
    cross join edges
    group by 1, 2

),

window_totals as (

    select
        min(transaction_day) as window_first_day,
        max(transaction_day) as window_last_day,
        count(distinct transaction_day) as window_days,
        sum(transactions)::bigint as labeled_rows
    from buckets

),

at_candidates as (

    -- per candidate (and "never", after the last): what lies below it, and at or above it
    select
        edge.candidate,
        edge.threshold,
        coalesce(sum(buckets.transactions) filter (where buckets.bucket < edge.candidate), 0)::bigint as below,
        coalesce(sum(buckets.frauds) filter (where buckets.bucket < edge.candidate), 0)::bigint as frauds_below,
        coalesce(sum(buckets.fraud_amount) filter (where buckets.bucket < edge.candidate), 0)::float8
        as fraud_amount_below,
        coalesce(sum(buckets.frauds) filter (where buckets.bucket >= edge.candidate), 0)::bigint as frauds_at_or_above,
        coalesce(sum(buckets.legit) filter (where buckets.bucket >= edge.candidate), 0)::bigint as legit_at_or_above
    from (
        select
            candidate,
            threshold
        from candidates
        union all
        select
            count(*) + 1 as candidate,
            null::float8 as threshold
        from candidates
    ) as edge
    cross join buckets
    group by edge.candidate, edge.threshold

),

options as (

    select
        review.threshold as review_threshold,
        block.threshold as block_threshold,
        review.frauds_below as frauds_approved,
        review.fraud_amount_below as missed_fraud_amount,
        block.below - review.below as reviewed,
        block.frauds_at_or_above as frauds_blocked,
        block.legit_at_or_above as legit_blocked
    from at_candidates as review
    inner join at_candidates as block on review.candidate <= block.candidate
    where review.threshold is not null

),

costed as (

    select
        champion.model_version,
        options.review_threshold,
        options.block_threshold,
        window_totals.window_first_day,
        window_totals.window_last_day,
        window_totals.window_days,
        window_totals.labeled_rows,
        options.frauds_approved,
        options.missed_fraud_amount,
        options.reviewed,
        options.reviewed::float8 / window_totals.window_days as reviews_per_day,
        options.frauds_blocked,
        options.legit_blocked,
        options.missed_fraud_amount
        + {{ s.review_cost }}::float8 * options.reviewed
        + {{ s.blocked_legit_cost }}::float8 * options.legit_blocked as expected_cost,
        {{ s.review_capacity }}::float8 as review_capacity,
        options.reviewed::float8 / window_totals.window_days <= {{ s.review_capacity }}::float8 as within_capacity
    from options
    cross join window_totals
    cross join champion

),

final as (

    select
        costed.*,
        -- the cheapest option within capacity is 1; ties go to fewer reviews, then higher
        -- thresholds (no block band before any)
        case
            when costed.within_capacity
                then row_number() over (
                    partition by costed.within_capacity
                    order by
                        costed.expected_cost, costed.reviewed,
                        costed.review_threshold desc, costed.block_threshold desc nulls first
                )
        end as cost_rank
    from costed

)

select
    final.*,
    coalesce(final.cost_rank = 1, false) as is_recommended
from final
{%- endmacro %}
