{%- set models = fraud_scoring_models() -%}
{%- set schema = fraud_schema() -%}
{%- set runtime = fraud_scoring_runtime() -%}

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        fraud_constraints_after_load=true,
        fraud_distributed_by='transaction_id',
        fraud_append_through_view=['greenplum'],
        pre_hook=[
            "{{ fraud_scoring_begin() }}",
            "{{ fraud_drop_outdated_scores() }}",
        ],
        post_hook=["{{ fraud_record_scored_source() }}", "{{ fraud_scored_at_index() }}"],
    )
}}
{#- Every stored stack, scored once by every version that scores (docs/reliability.md):
    a run scores the stacks without a score of theirs (stack_id) from a version, after
    deleting the scores of stacks no longer stored (their rows changed, or were deleted),
    in the same transaction. So what a run scores never has a score yet: it is appended
    (delete+insert probed the table for every new row: 1.1 s of a 5.8 s model for 28,480
    new rows on 284,807), and the primary key (transaction_id, model_version) refuses a
    duplicate rather than replacing it. Locks (fraud_scoring_begin): one scoring run at a
    time on this table, and no stacking while it scores.
    Without JIT, as every model (fraud_without_jit). -#}
-- noqa: disable=LT02
-- (CTEs generated per model version: the indentation rule cannot place them)
-- the registry, read when the model compiles (which versions score) and when it runs (their bytes):
-- depends_on: {{ source('fraud', 'models') }}, {{ source('fraud', 'deployments') }}

with

{% for model in models %}
stacks_{{ loop.index }} as (

    -- the stored stacks of the source as it is that {{ model.version }} has not scored
    select
        stacked.stack_id,
        stacked.transaction_ids,
        stacked.n_rows,
        stacked.stack
    from {{ ref('int_credit_card__scoring_stacks') }} as stacked
    where
        stacked.source_table_id = {{ fraud_source_table_id() }}
        {% if is_incremental() -%}
            and {{ fraud_stack_not_scored('stacked', this, model.version) }}
        {%- endif %}

),

scored_{{ loop.index }} as (

    -- one scoring call per stack (OFFSET 0 keeps the planner from copying the call
    -- into each use of its result; it still runs in parallel workers); select-list
    -- unnests walk the stack's ids and the probabilities the call returns (float32
    -- bit patterns) in lockstep, and the stack's reason codes (one jsonb, parsed once
    -- per stack: OFFSET 0 again) ride along. The call names the model; score_stack reads
    -- it from the registry as its owner (a caller never hands the scorer model bytes).
    -- A challenger's failure does not stop the champion: its call gives NULL and a
    -- WARNING (fail_on_error false), its stacks stay unscored, and dbt test names it
    select
        calls.stack_id,
        calls.reasons,
        unnest(calls.transaction_ids) as transaction_id,
        unnest(calls.probability_bits) as probability_bits
    from (
        select
            outputs.stack_id,
            outputs.transaction_ids,
            outputs.scored[1]::integer[] as probability_bits,
            outputs.scored[2]::jsonb as reasons
        from (
            select
                stack_id,
                transaction_ids,
                {{ schema }}.score_stack(
                    stack, n_rows, {{ fraud_quote_literal(model.ref) }}, '{{ runtime }}',
                    {{ model.reason_threshold }}, {{ fraud_scoring_threads() }},
                    {{ 'true' if model.role == 'champion' else 'false' }}
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
        stack_id,
        -- the scoring statement's start, not the transaction's (now()): runs score one at a
        -- time (fraud_scoring_begin's lock), so statement starts order their scores by commit,
        -- and fraud_score_bins can take "scored_at > the newest it has seen" as "written since"
        statement_timestamp() as scored_at
    from scored_{{ loop.index }}
    -- rows with a NULL, NaN, infinite or out-of-range feature: in fraud_quarantine instead
    where probability_bits != {{ fraud_quarantined_bits() }}
    {%- endfor %}

)

select * from final
