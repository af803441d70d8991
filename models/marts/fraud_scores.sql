{%- set model = fraud_selected_model() -%}
{%- set schema = fraud_schema() -%}
{%- set engine = fraud_engine() -%}

{{
    config(
        materialized='incremental',
        unique_key='transaction_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        pre_hook=[
            "select pg_advisory_xact_lock(hashtext('{{ this }}'))",
            "set local enable_hashagg = off",
            "do $$ begin if exists (select from pg_settings where name = 'jit') then set local jit = off; end if; end $$",
        ],
    )
}}
{#- The advisory lock makes a second run on the same table wait for the first
    to commit, then score only what is left (the primary key would otherwise
    fail it on a duplicate transaction_id).
    enable_hashagg = off keeps the sorted GroupAggregate, which finishes and
    scores one stack before building the next. On small tables the planner
    prefers a HashAggregate, which builds every stack before scoring any.
    jit = off: compiling this query's expressions cost 1.3 s at 2M rows and
    saved nothing (the time is in the scoring calls); guarded, as Greenplum 6
    has no jit setting. SET LOCAL ends with the model's transaction. -#}

with

batched as (

    select
        packed.batch_rows,
        packed.batch_id,
        packed.scoring_row
    from {{ ref('int_credit_card__scoring_rows') }} as packed
    {% if is_incremental() -%}
    -- only transactions without a score from the selected model version
        where not exists (
            select 1
            from {{ this }} as scored
            where
                scored.transaction_id = packed.transaction_id
                and scored.model_version = {{ fraud_quote_literal(model.version) }}
        )
    {%- endif %}

),

stacks as (

    -- the stacking aggregate: one stack per batch, at most fraud_batch_rows rows;
    -- each row's id travels inside it with its features
    select
        batch_rows,
        batch_id,
        count(*) as n_rows,
        string_agg(scoring_row, ''::bytea) as stack
    from batched
    group by batch_rows, batch_id

),

scored_stacks as (

    select
        stack_scores.transaction_ids,
        stack_scores.probabilities
    from stacks
    -- the model arguments are scalar subqueries on purpose: InitPlans, read once
    -- per query and handed to parallel workers (a CTE scan would keep them out)
    cross join
        lateral {{ schema }}.score_stack_{{ engine }}(  -- noqa: ST05
            stacks.stack, stacks.n_rows, {{ fraud_model_arguments(model) }}
        ) as stack_scores

),

scored as (

    -- select-list unnest walks both arrays in lockstep (a lateral unnest
    -- invited a Memoize that hashed whole 100k-element arrays)
    select
        unnest(transaction_ids::bigint[]) as transaction_id,
        unnest(probabilities::float8[]) as fraud_probability
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
