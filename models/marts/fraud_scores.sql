{%- set models = fraud_scoring_models() -%}
{%- set schema = fraud_schema() -%}
{%- set runtime = fraud_scoring_runtime() -%}
{#- Counting the source's rows per stack takes the raw table's key index:
    PostgreSQL only (Greenplum's append-optimized raw table has none). -#}
{%- set check_stacks = fraud_source_has_key_index() -%}
{#- Transactions not stacked yet are stacked on the fly (so `dbt run --select
    fraud_scores` alone scores new rows), except on Greenplum / Cloudberry when
    int_credit_card__scoring_stacks is part of this run, as in a plain `dbt run`:
    it has just stacked them, and looking again scans the whole raw table there
    (no key index: 0.87 s a segment at 2M rows, for nothing). -#}
{%- set stack_on_the_fly = check_stacks or not fraud_stacks_model_in_run() -%}

{{
    config(
        materialized='incremental',
        unique_key=['transaction_id', 'model_version'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        fraud_constraints_after_load=true,
        fraud_distributed_by='transaction_id',
        pre_hook=[
            "select pg_advisory_xact_lock(hashtext('{{ this }}'))",
            "do $$ begin if exists (select from pg_settings where name = 'jit') then set local jit = off; end if; end $$",
            "{{ fraud_drop_outdated_scores() }}",
        ],
        post_hook="{{ fraud_record_scored_source() }}",
    )
}}
{#- The advisory lock makes a second run on the same table wait for the first
    to commit, then score only what is left (the primary key would otherwise
    fail it on a duplicate transaction_id).
    jit = off: compiling this query's expressions cost 1.3 s at 2M rows and
    saved nothing (the time is in the scoring calls); guarded, as Greenplum 6
    has no jit setting. SET LOCAL ends with the model's transaction.
    Scores of a replaced source, or of stacks stacked again since (rows deleted or
    inserted), are deleted first and scored anew (macros/fraud_changes.sql). -#}
-- noqa: disable=LT02
-- (CTEs generated per model version: the indentation rule cannot place them)
-- the registry, read when the model compiles (which versions score) and when it runs (their bytes):
-- depends_on: {{ source('fraud', 'models') }}, {{ source('fraud', 'deployments') }}

with

{% if stack_on_the_fly -%}
{{ fraud_stack_transactions(
    ref('stg_raw__credit_card'),
    fraud_batch_rows(),
    last_stacked_sql="select max(last_transaction_id) from " ~ ref('int_credit_card__scoring_stacks')
        ~ " where source_table_id = " ~ fraud_source_table_id(),
    name='not_yet_stacked',
) }},
{%- endif %}

stored as (

    -- the stored stacks to score, and whether each is current: the source still
    -- holds exactly its number of transactions between its first and last id
    -- (an index-only count), or rows were deleted or inserted there since it
    -- was stacked. Keys and counts only: a CTE read twice is materialized, and
    -- the stacks' bytes should not be.
    select
        stacked.first_transaction_id,
        stacked.last_transaction_id,
        stacked.n_rows,
        {% if check_stacks -%}
            (
                select count(*)
                from {{ ref('stg_raw__credit_card') }} as staged
                where staged.transaction_id between stacked.first_transaction_id and stacked.last_transaction_id
            )
        {%- else -%}
            stacked.n_rows
        {%- endif %} as source_rows
    from {{ ref('int_credit_card__scoring_stacks') }} as stacked
    -- stacks of the raw table as it is (not of data it held before a reload)
    where
        stacked.source_table_id = {{ fraud_source_table_id() }}
        {% if is_incremental() -%}
            -- only stacks without scores from one of the versions that score
            and (
                {%- for model in models %}
                    {{ 'or ' if not loop.first }}{{ fraud_stack_not_scored('stacked', this, model.version) }}
                {%- endfor %}
            )
        {%- endif %}

),

{%- for model in models %}

stacks_{{ loop.index }} as (

    -- the stacks {{ model.version }} scores
    select
        stacked.transaction_ids,
        stacked.n_rows,
        stacked.stack
    from {{ ref('int_credit_card__scoring_stacks') }} as stacked
    inner join stored on stacked.first_transaction_id = stored.first_transaction_id
    where
        stored.source_rows = stored.n_rows
        {% if is_incremental() -%}
            and {{ fraud_stack_not_scored('stacked', this, model.version) }}
        {%- endif %}
    {% if check_stacks -%}
        -- a stack whose transactions changed in the source: stacked again, from it
        union all
        select
            restacked.transaction_ids,
            restacked.n_rows,
            restacked.stack
        from stored
        cross join
            lateral (
                {{ fraud_stack_range(
                    ref('stg_raw__credit_card'), 'stored.first_transaction_id', 'stored.last_transaction_id'
                ) | indent(16) }}
            ) as restacked
        where stored.source_rows != stored.n_rows and restacked.n_rows > 0
    {%- endif %}
    {% if stack_on_the_fly -%}
        -- transactions that arrived since int_credit_card__scoring_stacks last ran
        -- (when fraud_scores runs without it), stacked on the fly: none otherwise
        union all
        select
            transaction_ids,
            n_rows,
            stack
        from not_yet_stacked
        {% if is_incremental() -%}
            where {{ fraud_stack_not_scored('not_yet_stacked', this, model.version) }}
        {%- endif %}
    {%- endif %}

),

scored_{{ loop.index }} as (

    -- one scoring call per stack (OFFSET 0 keeps the planner from copying the call
    -- into each use of its result; it still runs in parallel workers); select-list
    -- unnests walk the stack's ids and the probabilities the call returns (float32
    -- bit patterns) in lockstep, and the stack's reason codes (one jsonb, parsed once
    -- per stack: OFFSET 0 again) ride along. The call names the model; score_stack reads
    -- it from the registry as its owner (a caller never hands the scorer model bytes)
    select
        calls.reasons,
        unnest(calls.transaction_ids) as transaction_id,
        unnest(calls.probability_bits) as probability_bits
    from (
        select
            outputs.transaction_ids,
            outputs.scored[1]::integer[] as probability_bits,
            outputs.scored[2]::jsonb as reasons
        from (
            select
                transaction_ids,
                {{ schema }}.score_stack(
                    stack, n_rows, {{ fraud_quote_literal(model.ref) }}, '{{ runtime }}',
                    {{ model.reason_threshold }}, {{ fraud_scoring_threads() }}, true
                ) as scored
            from stacks_{{ loop.index }}
            offset 0  -- noqa: AM09
        ) as outputs
        offset 0  -- noqa: AM09
    ) as calls

),
{%- endfor %}

final as (
    {%- for model in models %}
    {{ 'union all' if not loop.first }}
    select
        transaction_id,
        {{ fraud_quote_literal(model.version) }}::text as model_version,
        {{ schema }}.probability_from_bits(probability_bits) as fraud_probability,
        -- a float32's bit pattern orders like its value (probabilities are not negative):
        -- only rows at the reason threshold look theirs up
        case
            when probability_bits >= {{ fraud_float4_bits(model.reason_threshold) }}
                then reasons -> transaction_id::text
        end as reason_codes,
        now() as scored_at
    from scored_{{ loop.index }}
    -- rows with a NULL, NaN, infinite or out-of-range feature: in fraud_quarantine instead
    where probability_bits != {{ fraud_quarantined_bits() }}
    {%- endfor %}

)

select * from final
