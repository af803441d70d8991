{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        fraud_distributed_by='stack_id',
        fraud_jit_in_full_builds=true,
        pre_hook=[
            "{{ fraud_score_bins_begin() }}",
            "{{ fraud_feature_bins_forget_gone() }}",
        ],
    )
}}
{#- Per model version with a feature reference, stored stack, day of the data, input feature
    and reference bin: how many of the stack's values fall in the bin (docs/monitoring.md).
    fraud_feature_drift sums these per day.
    Why so: the features are already packed in the stored stacks the scorer reads, 112 bytes
    a row. feature_bin_counts (PL/Python, installed with the scoring functions) reads a stack
    in place with numpy and bins each column with one searchsorted, the function that counted
    the training rows for the reference, so a day is binned exactly as the reference was; SQL
    would unpivot every row into 28 values and compare each with its feature's edges. A SQL
    model around it rather than a Python model: a run with nothing new calls no Python at all
    (a Python model pays its interpreter's imports, about 1 s, on every run).
    Incremental by (version, stack), following fraud_score_bins: a pair there is that
    version's current scores of that stack. The pre-hook deletes the pairs fraud_score_bins no
    longer holds (fraud_feature_bins_forget_gone); this query counts the pairs it lacks,
    reading only their stacks and the days of their id ranges. Before that, the first
    pre-hook locks the table as fraud_score_bins does its own (fraud_score_bins_begin): two
    runs at once would both count the same lacking pairs. -#}
{%- set schema = fraud_schema() %}

with

models as (

    select
        model_version,
        reference_features::text as reference
    from {{ ref('stg_fraud__models') }}
    where reference_features is not null

),

pairs as (

    select distinct
        bins.model_version,
        bins.stack_id
    from {{ ref('fraud_score_bins') }} as bins
    inner join models on bins.model_version = models.model_version
    {%- if is_incremental() %}
        where not exists (
            select 1 from {{ this }} as held
            where held.model_version = bins.model_version and held.stack_id = bins.stack_id
        )
    {%- endif %}

),

new_stacks as (

    select
        stack_id,
        stack,
        transaction_ids,
        first_transaction_id,
        last_transaction_id
    from {{ ref('int_credit_card__scoring_stacks') }}
    where stack_id in (select pairs.stack_id from pairs)

),

-- the day of the rows of each new stack (fraud_stack_rows: through the key range on
-- PostgreSQL, the stack's ids on Greenplum), ids ascending: the function picks the stack's
-- rows by id
stack_days as (

    select
        new_stacks.stack_id,
        string_agg(int8send(staged.transaction_id), ''::bytea order by staged.transaction_id) as ids,
        string_agg(
            int4send(floor(staged.seconds_since_start / 86400)::integer), ''::bytea order by staged.transaction_id
        ) as row_days
    from {{ fraud_stack_rows('new_stacks', ref('stg_raw__credit_card')) | indent(4) }}
    group by new_stacks.stack_id

),

-- a set-returning function in the select list (no LATERAL: Greenplum); a subquery with one
-- is not pulled up, so each pair's call runs once
counted as (

    select
        pairs.model_version,
        pairs.stack_id,
        {{ schema }}.feature_bin_counts(
            new_stacks.stack, stack_days.ids, stack_days.row_days, models.reference
        ) as counts
    from pairs
    inner join models on pairs.model_version = models.model_version
    inner join new_stacks on pairs.stack_id = new_stacks.stack_id
    inner join stack_days on pairs.stack_id = stack_days.stack_id

),

final as (

    select
        model_version,
        stack_id,
        (counts).transaction_day as transaction_day,
        (counts).feature as feature,
        (counts).feature_bin as feature_bin,
        (counts).feature_rows as feature_rows
    from counted

)

select * from final
