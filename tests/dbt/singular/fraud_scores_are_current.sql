-- Scores computed from the source as it is: no source row written since the last stacking
-- (PostgreSQL, by commit order), no stack whose range lost rows, no score from a stack that
-- is no longer stored, and the stacked features of sampled rows (every row on Greenplum /
-- Cloudberry, where updates in place are not followed) equal to the source's now. A row
-- listed here has a stale or missing score until the next `dbt run` (docs/reliability.md).
{%- set contract = fraud_stack_contract() %}
{%- set every = fraud_currency_sample_every() %}

with

stacks as (

    select
        stack_id,
        first_transaction_id,
        last_transaction_id,
        n_rows,
        transaction_ids,
        stack
    from {{ ref('int_credit_card__scoring_stacks') }}
    where source_table_id = {{ fraud_source_table_id() }}

),

written_since_stacked as (

    {{ fraud_source_written_since_stacked(ref('int_credit_card__scoring_stacks')) | indent(4) }}

),

stacked_rows as (

    select
        stacks.stack_id,
        rows_.transaction_id,
        substring(
            stacks.stack
            from ((rows_.position - 1) * {{ contract['row_bytes'] }} + {{ contract['id_bytes'] }} + 1)::integer
            for {{ contract['feature_row_bytes'] }}
        ) as features
    from stacks
    cross join lateral unnest(stacks.transaction_ids) with ordinality as rows_ (transaction_id, position)
    where rows_.transaction_id % {{ every }} = 0

),

final as (

    select
        transaction_id,
        'written since the last stacking: not scored as it is yet' as problem
    from written_since_stacked

    union all

    select
        stacks.first_transaction_id as transaction_id,
        'a stack whose id range lost rows (deleted): its scores include them' as problem
    from stacks
    where {{ fraud_stack_lost_rows('stacks') }}

    union all

    select
        scores.transaction_id,
        'scored from a stack that is no longer stored (' || scores.model_version || ')' as problem
    from {{ ref('fraud_scores') }} as scores
    where
        not exists (
            select 1 from stacks
            where stacks.stack_id = scores.stack_id
        )

    union all

    select
        stacked_rows.transaction_id,
        -- a stacked row the source no longer holds: on Greenplum / Cloudberry (no count of
        -- stack ranges there) this comparison is what finds deleted rows, so it says so
        case
            when staged.transaction_id is null then 'stacked but no longer in the source (deleted)'
            else 'stacked features differ from the source now (updated in place)'
        end as problem
    from stacked_rows
    left join {{ ref('stg_raw__credit_card') }} as staged
        on stacked_rows.transaction_id = staged.transaction_id
    where staged.features is distinct from stacked_rows.features

)

select * from final
