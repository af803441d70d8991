-- sqlfluff:exclude_rules:LT02
-- (the macro returns a CTE fragment, which the indentation rule cannot place)
{#- The body of int_credit_card__scoring_stacks: staged transactions into bounded stacks, each
    stored with its identity and what the stacking saw of the source. Its platform differences
    are in the macros it calls: fraud_stack_batches, fraud_stack_new_rows,
    fraud_stacking_snapshot. -#}

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
