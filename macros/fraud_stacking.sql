-- sqlfluff:exclude_rules:LT02
-- (these macros return CTE fragments, which the indentation rule cannot place)
{#- Stacking: transactions into bounded stacks, once, as they arrive. -#}

{% macro fraud_stack_transactions(staged, batch_rows, last_stacked_sql=none, name='final') -%}
    {#- CTEs ending in one named `name`: one row per batch of staged transactions
        (transaction_id / batch_rows), for the transactions with an id above
        last_stacked_sql's value (all when none). Used by
        int_credit_card__scoring_stacks, and by fraud_scores for transactions
        not stacked yet. The other CTEs' names start with `name`. -#}
    {%- if fraud_platform() == 'greenplum' -%}
        {{ _fraud_stack_by_grouping(staged, batch_rows, last_stacked_sql, name) }}
    {%- else -%}
        {{ _fraud_stack_by_ranges(staged, batch_rows, last_stacked_sql, name) }}
    {%- endif -%},

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
        any of its transactions stands for it (its first may be quarantined, so the
        first score in its range: one step of the primary key's index).
        Greenplum / Cloudberry: its first transaction's score, an equality the planner
        turns into a hash anti-join (a range condition there is a nested loop over every
        score: 1.4 s at 2M rows for a run with nothing to do); a stack whose first
        transaction is quarantined is then scored again in every run, until it is fixed. -#}
    not exists (
        select 1
        from {{ scores }} as scored
        where
            {% if fraud_platform() == 'greenplum' -%}
                scored.transaction_id = {{ stack }}.first_transaction_id
            {%- else -%}
                scored.transaction_id between {{ stack }}.first_transaction_id and {{ stack }}.last_transaction_id
            {%- endif %}
            and scored.model_version = {{ fraud_quote_literal(version) }}
    )
{%- endmacro %}

{% macro _fraud_new_transactions(last_stacked_sql) -%}
    {%- if last_stacked_sql -%}
        transaction_id > coalesce(({{ last_stacked_sql }}), '-9223372036854775808'::bigint)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{% macro _fraud_stack_columns() -%}
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
    {{ _fraud_stack_columns() | indent(4) }}
from {{ staged }} as staged
where staged.transaction_id between {{ first_id_sql }} and {{ last_id_sql }}
{%- endmacro %}

{% macro _fraud_stack_by_ranges(staged, batch_rows, last_stacked_sql, name) -%}
{#- PostgreSQL: each batch read by an index range scan of the source's key, so
    no sort of the whole input (it spilled 490 MB at 2M rows) and one stack in
    memory at a time. -#}
{{ name }}_batches as (

    select distinct transaction_id / {{ batch_rows }} as batch_id
    from {{ staged }}
    where {{ _fraud_new_transactions(last_stacked_sql) }}

),

{{ name }}_stacks as (

    select
        {{ batch_rows }} as batch_rows,
        batches.batch_id,
        batch.*
    from {{ name }}_batches as batches
    cross join lateral (
        select
            {{ _fraud_stack_columns() | indent(12) }}
        from {{ staged }} as staged
        -- exactly the ids with transaction_id / batch_rows = batch_id (integer
        -- division truncates towards zero), as a range the primary key can scan
        where
            staged.transaction_id between
            case
                when batches.batch_id > 0 then batches.batch_id * {{ batch_rows }}
                else batches.batch_id * {{ batch_rows }} - {{ batch_rows - 1 }}
            end
            and case
                when batches.batch_id < 0 then batches.batch_id * {{ batch_rows }}
                else batches.batch_id * {{ batch_rows }} + {{ batch_rows - 1 }}
            end
            and {{ _fraud_new_transactions(last_stacked_sql) }}
    ) as batch

)
{%- endmacro %}

{% macro _fraud_stack_by_grouping(staged, batch_rows, last_stacked_sql, name) -%}
{#- Greenplum / Cloudberry: the source is distributed and has no key index. Every
    new row gets the key of its batch, and one grouping by that key moves each
    row once, to the segment that will hold and score the stack (the stacks are
    distributed by batch_id, so the grouped rows are written where they are).
    Batches are chosen so that segments get equal rows whatever the batch size:
    the new rows are cut into blocks of batch_rows x segments consecutive ids,
    and a block's row goes to lane (id - base) % segments, one batch per lane;
    the batch_id of block b, lane l is the (b+1)-th key (fraud_segment_keys)
    that hashes to segment l. A block beyond the keys gets a negative batch_id
    of its own: stacks stay bounded and correct, only that block's balance is
    left to the hash. -#}
{%- set segments = fraud_segment_layout()['segments'] -%}
{%- set block_rows = batch_rows * segments -%}
{%- set base -%}
    {%- if last_stacked_sql -%} coalesce(({{ last_stacked_sql }}) + 1, 0) {%- else -%} 0 {%- endif -%}
{%- endset %}
{{ name }}_placed as (

    select
        staged.transaction_id,
        staged.features,
        coalesce(
            ({{ fraud_segment_keys(segments) }})[
                (staged.transaction_id - {{ base }}) / {{ block_rows }} * {{ segments }}
                + (staged.transaction_id - {{ base }}) % {{ segments }} + 1
            ],
            -1 - (
                (staged.transaction_id - {{ base }}) / {{ block_rows }} * {{ segments }}
                + (staged.transaction_id - {{ base }}) % {{ segments }}
            )
        ) as batch_id
    from {{ staged }} as staged
    where {{ _fraud_new_transactions(last_stacked_sql) }}

),

{{ name }}_stacks as (

    select
        {{ batch_rows }} as batch_rows,
        batch_id,
        {{ _fraud_stack_columns() | indent(8) }}
    from {{ name }}_placed
    group by batch_id

)
{%- endmacro %}
