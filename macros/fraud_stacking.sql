-- sqlfluff:exclude_rules:LT02
-- (these macros return CTE fragments, which the indentation rule cannot place)
{#- Stacking: transactions into bounded stacks, once, as they arrive. -#}

{% macro fraud_stack_transactions(staged, batch_rows, last_stacked_sql=none, name='final') -%}
    {#- CTEs ending in one named `name`: one row per batch of staged transactions
        (transaction_id / batch_rows), for the transactions with an id above
        last_stacked_sql's value (all when none), batched as the platform wants
        (fraud_stack_batches). Used by int_credit_card__scoring_stacks, and by
        fraud_scores for transactions not stacked yet. The other CTEs' names start
        with `name`. -#}
    {{ fraud_stack_batches(staged, batch_rows, last_stacked_sql, name) }},

{{ name }} as (

    select
        batch_rows,
        batch_id,
        n_rows,
        first_transaction_id,
        last_transaction_id,
        transaction_ids,
        stack,
        {{ fraud_source_table_id() }} as source_table_id,
        now() as stacked_at
    from {{ name }}_stacks

)
{%- endmacro %}

{% macro fraud_stacks_model_in_run() -%}
    {#- Whether int_credit_card__scoring_stacks is selected in this dbt invocation
        (it then stacks every new transaction before fraud_scores runs). -#}
    {%- for resource in (selected_resources or []) if resource.endswith('.int_credit_card__scoring_stacks') -%}
        {{ return(true) }}
    {%- endfor -%}
    {{ return(false) }}
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

{% macro fraud_stack_not_scored(stack, scores, version) -%}
    {#- True for a stack (a relation alias with first_ and last_transaction_id) without
        scores from `version` in `scores`: a stack is scored whole, in one statement, so
        any of its transactions stands for it (its first may be quarantined, so
        PostgreSQL looks for the first score in its range; fraud_stack_scored_by). -#}
    not exists (
        select 1
        from {{ scores }} as scored
        where
            {{ fraud_stack_scored_by(stack) }}
            and scored.model_version = {{ fraud_quote_literal(version) }}
    )
{%- endmacro %}

{% macro fraud_stack_scored_by(stack) -%}
    {#- The condition on `scored` that finds a score of the stack. -#}
    {{ fraud_dispatch('fraud_stack_scored_by')(stack) }}
{%- endmacro %}

{% macro fraud_stack_batches(staged, batch_rows, last_stacked_sql, name) -%}
    {#- CTEs ending in `name`_stacks: the new transactions (fraud_new_transactions)
        cut into batches of batch_rows, one row per batch with batch_rows, batch_id
        and fraud_stack_columns(). PostgreSQL: one index range scan per batch;
        Greenplum / Cloudberry: one grouping by a placement key per segment. -#}
    {{ fraud_dispatch('fraud_stack_batches')(staged, batch_rows, last_stacked_sql, name) }}
{%- endmacro %}

{% macro fraud_source_has_key_index() -%}
    {#- Whether the raw table has its key index (PostgreSQL: a primary key; Greenplum's
        append-optimized raw table has none), so that counting the source's rows per
        stack is an index-only scan. -#}
    {{ return(fraud_dispatch('fraud_source_has_key_index')()) }}
{%- endmacro %}

{% macro fraud_new_transactions(last_stacked_sql) -%}
    {#- The staged transactions not stacked yet: ids above last_stacked_sql's value. -#}
    {%- if last_stacked_sql -%}
        transaction_id > coalesce(({{ last_stacked_sql }}), '-9223372036854775808'::bigint)
    {%- else -%}
        true
    {%- endif -%}
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
