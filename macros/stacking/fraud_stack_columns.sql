-- sqlfluff:exclude_rules:LT02
-- (the macro returns a CTE fragment, which the indentation rule cannot place)
{#- A stack's columns, aggregated over its transactions: the stack contract's row. The same on
    every platform. -#}

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
