-- sqlfluff:exclude_rules:LT02
-- (these macros return CTE fragments and statements, which the indentation rule cannot place)
{#- PostgreSQL's side of every platform difference: the macros fraud_dispatch(name)
    returns as postgres__<name> (macros/platforms/fraud_platform.sql). Each public
    macro, named without the prefix, says what the difference is for; its Greenplum /
    Cloudberry side is in macros/platforms/greenplum.sql. -#}

{#- ---- stacking (macros/fraud_stacking.sql) ---- -#}

{% macro postgres__fraud_stack_batches(staged, batch_rows, last_stacked_sql, name) -%}
{#- PostgreSQL: each batch read by an index range scan of the source's key, so
    no sort of the whole input (it spilled 490 MB at 2M rows) and one stack in
    memory at a time. -#}
{{ name }}_batches as (

    select distinct transaction_id / {{ batch_rows }} as batch_id
    from {{ staged }}
    where {{ fraud_new_transactions(last_stacked_sql) }}

),

{{ name }}_stacks as (

    select
        {{ batch_rows }} as batch_rows,
        batches.batch_id,
        batch.*
    from {{ name }}_batches as batches
    cross join lateral (
        select
            {{ fraud_stack_columns() | indent(12) }}
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
            and {{ fraud_new_transactions(last_stacked_sql) }}
    ) as batch

)
{%- endmacro %}

{% macro postgres__fraud_stack_scored_by(stack) -%}
    {#- A stack's first score in its range: one step of the primary key's index. -#}
    scored.transaction_id between {{ stack }}.first_transaction_id and {{ stack }}.last_transaction_id
{%- endmacro %}

{% macro postgres__fraud_source_has_key_index() -%}
    {#- The raw table has a primary key (transaction_id): a count of the source's rows
        per stack is an index-only scan. -#}
    {{ return(true) }}
{%- endmacro %}

{#- ---- changed source rows (macros/fraud_changes.sql) ---- -#}

{% macro postgres__fraud_restack_changed_batches() -%}
    {#- A pre-hook of int_credit_card__scoring_stacks, in an incremental run on PostgreSQL:
        a stored stack with a source row updated, deleted or inserted among its ids since
        it was stacked (logged by the source's triggers, found through the log's index;
        where the triggers are missing, an index-only count per stack finds deletions and
        insertions) is replaced by the same id range stacked again, in one statement (its
        range, not its whole batch: a batch can hold more than one stack). -#}
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
{%- endmacro %}

{% macro postgres__fraud_watch_source() -%}
    {#- At the start of every dbt run (PostgreSQL): the raw table's triggers that log
        updated and deleted ids into {schema}.source_changes, attached when missing
        (a reload swaps in a new table, without them) and allowed (a superuser or the
        table's owner). Otherwise a warning: rows updated in place go unseen. -#}
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

{% macro postgres__fraud_drop_restacked_scores() -%}
    {#- Scores of stacks stacked again after they were scored (their first score is
        older than the stack). -#}
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
{%- endmacro %}

{#- ---- tables and segments (macros/fraud_table_build.sql, macros/fraud_segments.sql) ---- -#}

{% macro postgres__fraud_table_distribution(column) -%}
    {#- One server: no distribution clause. -#}
    {{ return(none) }}
{%- endmacro %}

{% macro postgres__fraud_distribute_stacks(relation) -%}
    {#- Nothing to distribute. -#}
{%- endmacro %}

{% macro postgres__fraud_probe_sql(schema) -%}
    {#- The one server's probe. -#}
    {{ return("select -1, " ~ schema ~ ".probe_packages()") }}
{%- endmacro %}

{#- ---- settings (macros/fraud_settings.sql) ---- -#}

{% macro postgres__fraud_default_scoring_threads() -%}
    {#- One backend scores: every core of the host. -#}
    {{ return(0) }}
{%- endmacro %}

{#- ---- install (macros/fraud_scoring_install.sql) ---- -#}

{% macro postgres__fraud_install_table_distribution() -%}
    {{ return('') }}
{%- endmacro %}

{% macro postgres__fraud_install_parallel_label(label) -%}
    {{ return(' parallel ' ~ label) }}
{%- endmacro %}

{% macro postgres__fraud_install_placement_keys(schema) -%}
    {{ return('') }}
{%- endmacro %}

{% macro postgres__fraud_install_one_champion_index(schema) -%}
create unique index if not exists deployments_one_champion on {{ schema }}.deployments (role)
where role = 'champion';
{%- endmacro %}

{% macro postgres__fraud_install_change_log(schema) -%}
-- Source rows updated, deleted, or inserted below ids already there, by id: what lets
-- a dbt run restack and rescore exactly those stacks without rereading every row.
-- Written by the statement-level triggers fraud_watch_source() attaches to the raw
-- table. Appended rows (ids above every earlier one, as the loader numbers them) are
-- not logged: stacking takes the ids above the highest stacked.
create table if not exists {{ schema }}.source_changes (
    table_oid oid not null,
    transaction_id bigint not null,
    changed_at timestamptz not null default clock_timestamp()
);
create index if not exists source_changes_by_id on {{ schema }}.source_changes (table_oid, transaction_id);

create or replace function {{ schema }}.log_source_changes()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog
as $$
declare
    appended boolean;
begin
    if tg_op = 'UPDATE' then
        insert into {{ schema }}.source_changes (table_oid, transaction_id)
        select tg_relid, transaction_id from old_rows
        union
        select tg_relid, transaction_id from new_rows;
    elsif tg_op = 'DELETE' then
        insert into {{ schema }}.source_changes (table_oid, transaction_id)
        select tg_relid, transaction_id from old_rows;
    else
        -- an append leaves no earlier row above its lowest id (an index-only count of
        -- the rows from there on: as many as it inserted)
        execute format(
            'select count(*) = (select count(*) from new_rows) from %I.%I '
            'where transaction_id >= (select min(transaction_id) from new_rows)',
            tg_table_schema, tg_table_name
        ) into appended;
        if not appended then
            insert into {{ schema }}.source_changes (table_oid, transaction_id)
            select tg_relid, transaction_id from new_rows;
        end if;
    end if;
    return null;
end
$$;
revoke all on function {{ schema }}.log_source_changes() from public;
{%- endmacro %}

{% macro postgres__fraud_install_platform_grants(schema, role) -%}
    grant select on {{ schema }}.source_changes to {{ role }};
{%- endmacro %}
