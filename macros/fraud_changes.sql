{#- Source rows deleted, inserted below the stacked ids, or a source replaced: stacks and
    scores follow (PostgreSQL; a corrected row, updated in place, needs
    `dbt run --full-refresh --select int_credit_card__scoring_stacks+`). -#}

{% macro fraud_restack_changed_batches() -%}
    {#- A pre-hook of int_credit_card__scoring_stacks, in an incremental run on PostgreSQL:
        a stored stack whose source no longer holds exactly its number of transactions
        between its first and last id (an index-only count per stack: deletions and
        insertions there) is replaced by its batch stacked again, in one statement. -#}
    {%- if is_incremental() and fraud_engine_kind() != 'greenplum' -%}
        {%- set batch_rows = fraud_batch_rows() -%}
        with stale as (
            delete from {{ this }} as stacked
            where
                stacked.source_table_id = {{ fraud_source_table_id() }}
                and stacked.n_rows != (
                    select count(*)
                    from {{ ref('stg_raw__credit_card') }} as staged
                    where staged.transaction_id between stacked.first_transaction_id and stacked.last_transaction_id
                )
            returning stacked.batch_rows, stacked.batch_id
        )
        insert into {{ this }} (
            batch_rows, batch_id, n_rows, first_transaction_id, last_transaction_id, transaction_ids, stack,
            source_table_id, stacked_at
        )
        select
            stale.batch_rows,
            stale.batch_id,
            restacked.*,
            {{ fraud_source_table_id() }},
            now()
        from stale
        cross join lateral (
            {{ fraud_stack_range(
                ref('stg_raw__credit_card'),
                'stale.batch_id * stale.batch_rows', 'stale.batch_id * stale.batch_rows + stale.batch_rows - 1',
            ) }}
        ) as restacked
        where restacked.n_rows > 0
    {%- endif -%}
{%- endmacro %}

{% macro fraud_drop_outdated_scores() -%}
    {#- A pre-hook of fraud_scores, in an incremental run: scores of a source that was
        replaced or truncated since (the table's comment names the source it scored),
        and scores of stacks stacked again after they were scored (their first score
        is older than the stack), are deleted, so the run scores them anew: deleted
        transactions lose their scores. -#}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where (select {{ _fraud_scored_source(this) }} is distinct from 'source ' || {{ fraud_source_table_id() }});
        delete from {{ this }} as scores
        using {{ ref('int_credit_card__scoring_stacks') }} as stacked
        where
            scores.transaction_id between stacked.first_transaction_id and stacked.last_transaction_id
            and stacked.stacked_at > (
                select first_score.scored_at
                from {{ this }} as first_score
                where first_score.transaction_id between stacked.first_transaction_id and stacked.last_transaction_id
                order by first_score.transaction_id
                limit 1
            )
    {%- else -%}
        select 1
    {%- endif -%}
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
