-- sqlfluff:exclude_rules:LT02
-- (the macro returns a query built of CTE fragments, which the indentation rule cannot place)
{#- The body of int_credit_card__scoring_stacks: staged transactions into bounded stacks, each
    stored with its identity and what the stacking saw of the source. Its platform differences
    are in the macros it calls: fraud_stack_batches, fraud_stack_new_rows,
    fraud_stacking_snapshot. -#}

{% macro fraud_stack_transactions(staged, batch_rows, stacks=none, name='final') -%}
    {#- A query: one row per stack of staged transactions.
        stacks none: every staged transaction, cut into batches of batch_rows
        (fraud_stack_batches). stacks a relation (the stored stacks, in an incremental
        run): only the transactions no stored stack holds (fraud_stack_new_rows; the
        changed ones inside stored stacks were stacked again by the run's pre-hook).
        The CTEs' names start with `name`. The last step is a SELECT, not a CTE: it draws
        each stack's id with random(), and PostgreSQL computes a CTE holding a volatile
        function on its own, into a temporary file (every new stack written there once
        before the table: 100 MB for 800,000 rows), where a SELECT streams the stacks on. -#}
with

{% if stacks is none -%}
    {{ fraud_stack_batches(staged, batch_rows, name) }}
{%- else -%}
    {{ fraud_stack_new_rows(staged, batch_rows, stacks, name) }}
{%- endif %}

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
{%- endmacro %}
