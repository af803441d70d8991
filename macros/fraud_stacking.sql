-- sqlfluff:exclude_rules:LT02
-- (these macros return CTE fragments, which the indentation rule cannot place)
{#- Stacking: transactions into bounded stacks, once, as they arrive. -#}

{% macro fraud_stack_transactions(staged, batch_rows, stacks=none, name='final') -%}
    {#- CTEs ending in one named `name`: one row per stack of staged transactions.
        stacks none: every staged transaction, cut into batches of batch_rows
        (fraud_stack_batches). stacks a relation (the stored stacks, in an incremental
        run): only the transactions no stored stack holds (fraud_stack_new_rows; the
        changed ones inside stored stacks were stacked again by the run's pre-hook).
        The other CTEs' names start with `name`. -#}
    {%- if stacks is none -%}
        {{ fraud_stack_batches(staged, batch_rows, name) }},
    {%- else -%}
        {{ fraud_stack_new_rows(staged, batch_rows, stacks, name) }},
    {%- endif %}

{{ name }} as (

    select
        batch_rows,
        batch_id,
        n_rows,
        first_transaction_id,
        last_transaction_id,
        transaction_ids,
        stack,
        {{ fraud_new_stack_id() }} as stack_id,
        {{ fraud_source_table_id() }} as source_table_id,
        {{ fraud_stacking_snapshot() }} as stacked_snapshot,
        now() as stacked_at
    from {{ name }}_stacks

)
{%- endmacro %}

{% macro fraud_new_stack_id() -%}
    {#- A stack's identity: a random 62-bit integer drawn when the stack is built. Every
        score records the stack it was computed from (fraud_scores.stack_id), so a score
        whose stack has been replaced (its rows changed) or removed is found by an
        anti-join on this id alone, on every platform. Two stacks share an id with
        probability about n^2 / 2^63 for n stacks ever built. -#}
    (random() * 4611686018427387904)::bigint
{%- endmacro %}

{% macro fraud_stacking_snapshot() -%}
    {#- What the stacking transaction saw of the source (PostgreSQL: its snapshot, the
        commit-order fact that finds rows written since; NULL where not followed). -#}
    {{ fraud_dispatch('fraud_stacking_snapshot')() }}
{%- endmacro %}

{% macro fraud_source_table_id() -%}
    {#- SQL for the raw table's identity: its oid and its data file. A reload that
        swaps in a new table (the loader) or truncates and refills it changes it,
        so stacks built from earlier data are never taken for current ones. -#}
    (
        select c.oid::text || '/' || c.relfilenode::text
        from pg_class as c
        where c.oid = {{ fraud_quote_literal(source('raw', 'credit_card')) }}::regclass
    )
{%- endmacro %}

{% macro fraud_drop_stacks_of_replaced_source() -%}
    {#- A pre-hook of int_credit_card__scoring_stacks: in an incremental run, delete
        the stacks built from an earlier incarnation of the raw table. -#}
    {%- if is_incremental() -%}
        delete from {{ this }} where source_table_id is distinct from {{ fraud_source_table_id() }}
    {%- endif -%}
{%- endmacro %}

{% macro fraud_stacking_begin() -%}
    {#- The first pre-hook of int_credit_card__scoring_stacks, right after BEGIN: one
        stacking transaction at a time (the stored stacks locked against other
        writers; readers go on), and on PostgreSQL one snapshot of the source for the
        whole transaction, taken after the lock is granted, so the stacks it writes
        and the snapshot it records (stacked_snapshot) agree. It runs no query while
        rendered: nothing may precede SET TRANSACTION. -#}
    {{ fraud_dispatch('fraud_stacking_begin')(load_cached_relation(this)) }}
{%- endmacro %}

{% macro fraud_stack_batches(staged, batch_rows, name) -%}
    {#- CTEs ending in `name`_stacks: every staged transaction cut into batches of
        batch_rows, one row per batch with batch_rows, batch_id and
        fraud_stack_columns(). PostgreSQL: one index range scan per batch;
        Greenplum / Cloudberry: one grouping by a placement key per segment. -#}
    {{ fraud_dispatch('fraud_stack_batches')(staged, batch_rows, none, name) }}
{%- endmacro %}

{% macro fraud_stack_new_rows(staged, batch_rows, stacks, name) -%}
    {#- CTEs ending in `name`_stacks: the staged transactions that no stack in `stacks`
        holds, stacked. PostgreSQL: the rows written since the last stacking (by
        commit order, fraud_changed_source_ids) that fall outside every stored stack's
        id range, grouped by batch and by the gap between stored stacks they fall in,
        so stack ranges never overlap; Greenplum / Cloudberry: ids above the highest
        stacked. -#}
    {{ fraud_dispatch('fraud_stack_new_rows')(staged, batch_rows, stacks, name) }}
{%- endmacro %}

{% macro fraud_stack_columns() -%}
{#- A stack's columns, aggregated over its transactions (the stack contract's row). -#}
count(*) as n_rows,
min(transaction_id) as first_transaction_id,
max(transaction_id) as last_transaction_id,
-- both aggregates read the same rows in the same order: transaction_ids[i]
-- is the transaction of the stack's i-th row
array_agg(transaction_id) as transaction_ids,
string_agg({{ fraud_stack_contract()['id_send'] }}(transaction_id) || features, ''::bytea) as stack
{%- endmacro %}

{% macro fraud_stack_range(staged, first_id_sql, last_id_sql) -%}
    {#- One stack of the staged transactions with ids between two SQL expressions (a
        lateral subquery: n_rows is 0 and the stack NULL when there are none). -#}
select
    {{ fraud_stack_columns() | indent(4) }}
from {{ staged }} as staged
where staged.transaction_id between {{ first_id_sql }} and {{ last_id_sql }}
{%- endmacro %}

{% macro fraud_stack_keys() -%}
    {#- A post-hook of int_credit_card__scoring_stacks: the stacks' keys (PostgreSQL: a
        unique index on first_transaction_id, which also finds the stack holding an id). -#}
    {{ fraud_dispatch('fraud_stack_keys')(this) }}
{%- endmacro %}

{% macro fraud_stack_not_scored(stack, scores, version) -%}
    {#- True for a stack (a relation alias with stack_id and first_ and last_transaction_id)
        without scores computed from it by `version` in `scores`: a stack is scored whole,
        in one statement, so any of its scores stands for it (fraud_stack_scored_by finds
        them through the scores' key). -#}
    not exists (
        select 1
        from {{ scores }} as scored
        where
            {{ fraud_stack_scored_by(stack) }}
            and scored.model_version = {{ fraud_quote_literal(version) }}
            and scored.stack_id = {{ stack }}.stack_id
    )
{%- endmacro %}

{% macro fraud_stack_scored_by(stack) -%}
    {#- The condition on `scored` that narrows the search for a stack's scores. -#}
    {{ fraud_dispatch('fraud_stack_scored_by')(stack) }}
{%- endmacro %}
