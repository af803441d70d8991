-- sqlfluff:exclude_rules:LT02
-- (the macros return statements chosen per platform, which the indentation rule cannot place)
{#- Source rows deleted, inserted below the stacked ids, or a source replaced: stacks and
    scores follow (PostgreSQL; a corrected row, updated in place, needs
    `dbt run --full-refresh --select int_credit_card__scoring_stacks+`). -#}

{% macro fraud_restack_changed_batches() -%}
    {#- A pre-hook of int_credit_card__scoring_stacks, in an incremental run on PostgreSQL:
        a stored stack with a source row updated, deleted or inserted among its ids since
        it was stacked (logged by the source's triggers, found through the log's index;
        where the triggers are missing, an index-only count per stack finds deletions and
        insertions) is replaced by the same id range stacked again, in one statement (its
        range, not its whole batch: a batch can hold more than one stack). -#}
    {%- if is_incremental() and fraud_platform() != 'greenplum' -%}
        {%- set batch_rows = fraud_batch_rows() -%}
        with stale as (
            delete from {{ this }} as stacked
            where
                stacked.source_table_id = {{ fraud_source_table_id() }}
                and (
                    {{ _fraud_changed_since_stacked('stacked') }}
                    -- without the triggers (a role that may not add them): an index-only count
                    -- per stack finds deletions and insertions, not updates
                    or case
                        when (
                            select count(*) from pg_trigger
                            where
                                tgrelid = {{ fraud_quote_literal(source('raw', 'credit_card')) }}::regclass
                                and tgname like 'fraud_source_changes_%'
                        ) = 3 then false
                        else stacked.n_rows != (
                            select count(*)
                            from {{ ref('stg_raw__credit_card') }} as staged
                            where staged.transaction_id between stacked.first_transaction_id and stacked.last_transaction_id
                        )
                    end
                )
            returning stacked.batch_rows, stacked.batch_id, stacked.first_transaction_id, stacked.last_transaction_id
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
                ref('stg_raw__credit_card'), 'stale.first_transaction_id', 'stale.last_transaction_id'
            ) }}
        ) as restacked
        where restacked.n_rows > 0
    {%- endif -%}
{%- endmacro %}

{% macro fraud_watch_source() -%}
    {#- At the start of every dbt run (PostgreSQL): the raw table's triggers that log
        updated and deleted ids into {schema}.source_changes, attached when missing
        (a reload swaps in a new table, without them) and allowed (a superuser or the
        table's owner). Otherwise a warning: rows updated in place go unseen. -#}
    {%- if fraud_platform() != 'greenplum' -%}
        {%- set schema = fraud_schema() -%}
        {%- set raw = fraud_identifier(var('raw_schema', 'raw'), 'var raw_schema') ~ '.credit_card' -%}
        {%- set state -%}
            select
                to_regclass({{ fraud_quote_literal(raw) }}) is not null,
                (
                    select count(*) from pg_trigger
                    where tgrelid = to_regclass({{ fraud_quote_literal(raw) }}) and tgname like 'fraud_source_changes_%'
                ),
                coalesce((select rolsuper from pg_roles where rolname = current_user), false) or coalesce(
                    pg_has_role(
                        current_user,
                        (select relowner from pg_class where oid = to_regclass({{ fraud_quote_literal(raw) }})),
                        'USAGE'
                    ),
                    false
                ),
                to_regclass({{ fraud_quote_literal(schema ~ '.source_changes') }}) is not null
        {%- endset -%}
        {%- set row = run_query(state).rows[0] -%}
        {%- if row[0] and row[3] and row[1] < 3 -%}
            {%- if row[2] -%}
                {%- set ddl -%}
                    drop trigger if exists fraud_source_changes_update on {{ raw }};
                    drop trigger if exists fraud_source_changes_delete on {{ raw }};
                    drop trigger if exists fraud_source_changes_insert on {{ raw }};
                    create trigger fraud_source_changes_update after update on {{ raw }}
                    referencing old table as old_rows new table as new_rows
                    for each statement execute function {{ schema }}.log_source_changes();
                    create trigger fraud_source_changes_delete after delete on {{ raw }}
                    referencing old table as old_rows
                    for each statement execute function {{ schema }}.log_source_changes();
                    create trigger fraud_source_changes_insert after insert on {{ raw }}
                    referencing new table as new_rows
                    for each statement execute function {{ schema }}.log_source_changes()
                {%- endset -%}
                {%- do run_query(ddl) -%}
                {%- do run_query('commit') -%}
            {%- else -%}
                {{ log("warning: " ~ raw ~ " has no fraud_source_changes triggers and this role may not add them: "
                    ~ "rows updated in place will not be rescored (a superuser's dbt run adds them)", info=true) }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro _fraud_changed_since_stacked(stacked) -%}
    {#- True for a stack with a source row updated or deleted after it was stacked. -#}
    exists (
        select 1
        from {{ fraud_schema() }}.source_changes as changes
        where
            changes.table_oid = {{ fraud_quote_literal(source('raw', 'credit_card')) }}::regclass
            and changes.transaction_id between {{ stacked }}.first_transaction_id and {{ stacked }}.last_transaction_id
            and changes.changed_at > {{ stacked }}.stacked_at
    )
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
        {% if fraud_platform() == 'greenplum' -%}
        -- Greenplum / Cloudberry: stacks are only ever built anew all at once (a full
        -- refresh; no restacking of changed rows there), so a score older than every
        -- current stack is outdated. (The range join below is a nested loop over every
        -- score there: 2.0 s at 2M rows for a run with nothing to do.)
        delete from {{ this }}
        where scored_at < (
            select min(stacked.stacked_at)
            from {{ ref('int_credit_card__scoring_stacks') }} as stacked
            where stacked.source_table_id = {{ fraud_source_table_id() }}
        )
        {%- else -%}
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
        {%- endif %}
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
