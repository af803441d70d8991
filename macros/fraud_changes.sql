-- sqlfluff:exclude_rules:LT02
-- (the macros return statements chosen per platform, which the indentation rule cannot place)
{#- Source rows inserted, updated or deleted anywhere, in any commit order: stacks and
    scores follow (docs/reliability.md). -#}

{% macro fraud_restack_changed_batches() -%}
    {#- A pre-hook of int_credit_card__scoring_stacks, in an incremental run: stored
        stacks whose source rows changed since they were stacked, stacked again
        (PostgreSQL; nothing on Greenplum / Cloudberry, where a changed row needs a
        full refresh and dbt test reports it). -#}
    {%- if is_incremental() -%}
        {{ fraud_dispatch('fraud_restack_changed_batches')() }}
    {%- endif -%}
{%- endmacro %}

{% macro fraud_changed_source_ids(stacks) -%}
    {#- A query of the ids of the source rows written (inserted or updated) since the
        latest stacking before this transaction, by commit order (PostgreSQL: each
        row's xmin against the snapshot that stacking recorded), or of every row when
        there is no such stacking. -#}
    {{ fraud_dispatch('fraud_changed_source_ids')(stacks) }}
{%- endmacro %}

{% macro fraud_drop_outdated_scores() -%}
    {#- A pre-hook of fraud_scores, in an incremental run: scores of a source that was
        replaced or truncated since (the table's comment names the source it scored),
        and scores whose stack (stack_id) is no longer stored (its rows changed and
        were stacked again, or were deleted), are deleted in the transaction that
        scores their replacements. -#}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where (select {{ _fraud_scored_source(this) }} is distinct from 'source ' || {{ fraud_source_table_id() }});
        delete from {{ this }} as scores
        where not exists (
            select 1 from {{ ref('int_credit_card__scoring_stacks') }} as stacked
            where stacked.stack_id = scores.stack_id
        )
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro fraud_scoring_begin() -%}
    {#- The first pre-hook of fraud_scores: one scoring transaction at a time on this
        table, and no stacking while it scores (the stacks it reads stay as they are
        until it commits; a stacking transaction waits, and so does this one for a
        stacking transaction under way). Locks are taken in one order (scores, then
        stacks), so two runs cannot deadlock. -#}
    {%- set existing = load_cached_relation(this) -%}
    {%- if existing is not none %}
    lock table {{ existing }} in exclusive mode;
    {%- endif %}
    lock table {{ ref('int_credit_card__scoring_stacks') }} in share mode
{%- endmacro %}

{% macro fraud_record_scored_source() -%}
    {#- A post-hook of fraud_scores: the source it scored, in the table's comment. -#}
    do $$ begin
        execute format(
            'comment on table %s is %L', {{ fraud_quote_literal(this) }}, 'source ' || {{ fraud_source_table_id() }}
        );
    end $$
{%- endmacro %}

{% macro _fraud_scored_source(relation) -%}
    obj_description({{ fraud_quote_literal(relation) }}::regclass, 'pg_class')
{%- endmacro %}

{% macro fraud_source_written_since_stacked(stacks) -%}
    {#- A query of the ids of source rows written since the newest stacking (what the next
        run will stack: PostgreSQL; nothing where changes are not followed by commit order). -#}
    {{ fraud_dispatch('fraud_source_written_since_stacked')(stacks) }}
{%- endmacro %}

{% macro fraud_stack_lost_rows(stack) -%}
    {#- True for a stored stack (an alias) whose transactions the source no longer all holds
        (PostgreSQL: an index-only count of its id range; Greenplum / Cloudberry: false, the
        comparison of every row's features finds those rows). -#}
    {{ fraud_dispatch('fraud_stack_lost_rows')(stack) }}
{%- endmacro %}

{% macro fraud_currency_sample_every() -%}
    {#- dbt test compares the stacked features of every n-th transaction id with the source:
        PostgreSQL follows updates by commit order, so a sample checks that it does;
        Greenplum / Cloudberry does not, so every row is compared. -#}
    {{ return(fraud_dispatch('fraud_currency_sample_every')()) }}
{%- endmacro %}
