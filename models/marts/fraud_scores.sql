{%- set model = fraud_selected_model() -%}
{%- set schema = fraud_schema() -%}
{%- set engine = fraud_engine() -%}
{%- set batch_rows = fraud_batch_rows() -%}

{{
    config(
        materialized='incremental',
        unique_key='transaction_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        pre_hook="set local enable_hashagg = off",
    )
}}
{#- The pre-hook keeps the sorted GroupAggregate, which finishes and scores one
    stack before building the next. On small tables the planner prefers a
    HashAggregate, which builds every stack before scoring any. SET LOCAL ends
    with the model's transaction. -#}

with

transactions as (

    select
        transaction_id,
        features,
        {{ fraud_segment_id() }} as segment_id
    from {{ ref('stg_raw__credit_card') }} as staged
    {% if is_incremental() -%}
    -- only transactions without a score from the selected model version
        where not exists (
            select 1
            from {{ this }} as scored
            where
                scored.transaction_id = staged.transaction_id
                and scored.model_version = {{ fraud_quote_literal(model.version) }}
        )
    {%- endif %}

),

batched as (

    -- at most {{ batch_rows }} rows per (segment, batch): transaction ids are unique
    -- integers, so {{ batch_rows }} consecutive id values hold at most that many rows.
    -- (Numbering rows with row_number() cost a sort of the whole input and a window.)
    select
        transaction_id,
        features,
        segment_id,
        transaction_id / {{ batch_rows }} as batch_id
    from transactions

),

stacks as (

    -- the stacking aggregate: each row's id travels with its packed features
    select
        segment_id,
        batch_id,
        count(*) as n_rows,
        string_agg(int8send(transaction_id) || features, ''::bytea) as stack
    from batched
    group by segment_id, batch_id

),

scored_stacks as (

    select
        stack_scores.transaction_ids,
        stack_scores.probabilities
    from stacks
    cross join
        lateral
        {{ schema }}.score_stack_{{ engine }}(
            stacks.stack, stacks.n_rows, {{ fraud_quote_literal(model.ref) }}
        ) as stack_scores

),

scored as (

    -- select-list unnest walks both arrays in lockstep (a lateral unnest
    -- invited a Memoize that hashed whole 100k-element arrays)
    select
        unnest(transaction_ids) as transaction_id,
        unnest(probabilities) as fraud_probability
    from scored_stacks

),

final as (

    select
        transaction_id,
        fraud_probability,
        fraud_probability >= {{ model.threshold }} as is_fraud,
        {{ fraud_quote_literal(model.version) }}::text as model_version,
        now() as scored_at
    from scored

)

select * from final
