-- sqlfluff:exclude_rules:LT02
-- (these macros return CTE fragments and statements, which the indentation rule cannot place)
{#- PostgreSQL's side of every platform difference: the macros fraud_dispatch(name)
    returns as postgres__<name> (macros/platforms/fraud_dispatch.sql). Each public
    macro, named without the prefix, says what the difference is for; its Greenplum /
    Cloudberry side is in macros/platforms/greenplum.sql. -#}

{#- ---- stacking (macros/stacking/) ---- -#}

{% macro postgres__fraud_stacking_begin(existing) -%}
    {#- Repeatable read: every statement of the stacking transaction reads the source
        as of one snapshot, the one recorded in stacked_snapshot. LOCK takes no
        snapshot, so the snapshot is taken after the lock is granted: a run that
        waited sees the stacks the other one committed. -#}
    set transaction isolation level repeatable read;
    {%- if existing is not none %}
    lock table {{ existing }} in exclusive mode
    {%- endif %}
{%- endmacro %}

{% macro postgres__fraud_stacking_snapshot() -%}
    pg_current_snapshot()
{%- endmacro %}

{% macro postgres__fraud_stack_batches(staged, batch_rows, last_stacked_sql, name) -%}
{#- PostgreSQL: each batch read by an index range scan of the source's key, so
    no sort of the whole input (it spilled 490 MB at 2M rows) and one stack in
    memory at a time. -#}
{{ name }}_batches as (

    select distinct transaction_id / {{ batch_rows }} as batch_id
    from {{ staged }}

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
    ) as batch

)
{%- endmacro %}

{% macro postgres__fraud_stack_new_rows(staged, batch_rows, stacks, name) -%}
{#- PostgreSQL: the staged rows no stored stack's id range holds (those inside one were
    stacked again with it by the pre-hook postgres__fraud_restack_changed_batches), grouped
    by batch and by the stored stack that follows them: a new stack never spans a stored
    one, so stack ranges stay disjoint. Two kinds: rows above every stored stack, which no
    stack can hold, read as one range of the source's key (an arrival: 200,000 new rows on
    2,000,000 took 0.59 s where 200,000 lookups by key took 1.08 s); and rows written since
    the last stacking (fraud_changed_source_ids, collected once by that pre-hook) at or
    below the last stored stack, each looked up by key and kept if it falls in a gap. -#}
{{ name }}_bounds as (

    select max(last_transaction_id) as last_stacked from {{ stacks }}

),

{{ name }}_new as (

    -- in the gaps: driven by the changed ids, each looked up by the source's key (the staged
    -- view packs only those rows; a join the other way round packs every row of the source
    -- first); the bound is checked before the probe of the stacks
    select
        changed.transaction_id,
        staged.features,
        changed.transaction_id / {{ batch_rows }} as batch_id,
        (
            select min(following.first_transaction_id) from {{ stacks }} as following
            where following.first_transaction_id > changed.transaction_id
        ) as next_stack
    from pg_temp.fraud_stacking_changed_ids as changed  -- written by the pre-hook
    cross join lateral (
        select looked_up.features
        from {{ staged }} as looked_up
        where looked_up.transaction_id = changed.transaction_id
        offset 0  -- noqa: AM09 (a lookup per id: not flattened into a join that packs every row)
    ) as staged
    where
        changed.transaction_id <= (select bounds.last_stacked from {{ name }}_bounds as bounds)
        and not {{ _fraud_in_a_stack(stacks, 'changed.transaction_id') }}

    union all

    -- above every stored stack (every row, when none is stored): each staged row there,
    -- changed since the last stacking or not (one whose stack was deleted is stacked again)
    select
        above.transaction_id,
        above.features,
        above.transaction_id / {{ batch_rows }} as batch_id,
        null::bigint as next_stack
    from {{ staged }} as above
    where
        above.transaction_id > (
            select coalesce(bounds.last_stacked, -9223372036854775808) from {{ name }}_bounds as bounds
        )

),

{{ name }}_stacks as (

    select
        {{ batch_rows }} as batch_rows,
        batch_id,
        {{ fraud_stack_columns() | indent(8) }}
    from {{ name }}_new
    group by batch_id, next_stack

)
{%- endmacro %}

{% macro _fraud_in_a_stack(stacks, id_sql) -%}
    {#- Whether a stored stack's id range holds the id: the last stack starting at or
        below it (one step of the stacks' unique index on first_transaction_id). -#}
    coalesce((
        select containing.last_transaction_id >= {{ id_sql }}
        from {{ stacks }} as containing
        where containing.first_transaction_id <= {{ id_sql }}
        order by containing.first_transaction_id desc
        limit 1
    ), false)
{%- endmacro %}

{% macro postgres__fraud_stack_keys(relation) -%}
    {#- A post-hook of int_credit_card__scoring_stacks: a stack per first id, at most
        (two stacking runs can never store the same stack twice), and the index that
        finds the stack holding an id. And the stacks stored uncompressed (STORAGE
        EXTERNAL, set once after a table is built: the ALTER locks the table): packed
        float4 bytes hardly compress, yet the default (pglz) tried, 0.38 s for two stacks
        of 100,000 rows (24 MB) where storing them as they are took 0.07 s. -#}
    create unique index if not exists {{ relation.identifier }}__first_transaction_id
    on {{ relation }} (first_transaction_id);
    do $fraud_storage$
    begin
        if exists (
            select 1 from pg_attribute
            where attrelid = '{{ relation }}'::regclass and attname = 'stack' and attstorage <> 'e'
        ) then
            alter table {{ relation }} alter column stack set storage external;
        end if;
    end
    $fraud_storage$
{%- endmacro %}

{#- ---- changed source rows (macros/changes/) ---- -#}

{% macro postgres__fraud_changed_source_ids(stacks, exact=false) -%}
{#- Commit order, not clocks: the stacking before this one recorded its snapshot
    (stacked_snapshot, the newest one taken before this transaction's), and a row
    written since is one written by a transaction that snapshot does not see: committed
    after it, or still running when it was taken (a late commit). Read from the change
    log when it is complete since that snapshot (fraud_track_source_writes: its marker
    is older than the snapshot): the ids of the entries whose writer (a top-level
    transaction, as snapshots list them) the snapshot does not see. Otherwise from the
    source itself, by each row version's xmin (a scan of the source): stacking takes
    every row whose xmin is at or after the snapshot's oldest running transaction (age(),
    one comparison a row), which holds those and a few committed just before: they are
    stacked again, never missed. Not pg_visible_in_snapshot on xmin: a snapshot lists
    top-level transactions only, so a row written in a subtransaction (a savepoint) of
    a transaction running then would pass for visible. exact (dbt test's report, not
    stacking): the source itself, and the snapshot's own answer for the rows the first
    test keeps. No stacking before (or one older than 2^31 transactions): every row.
    The branch not taken is not executed (a one-time filter on an InitPlan). -#}
{%- set schema = fraud_schema() -%}
{%- set raw = source('raw', 'credit_card') -%}
with since as (

    select
        latest.snapshot,
        age((pg_snapshot_xmin(latest.snapshot)::text::bigint % 4294967296)::text::xid) as age_limit,
        pg_snapshot_xmax(pg_current_snapshot())::text::bigint as next_xid,
        latest.too_old,
        {{ 'false' if exact else _fraud_log_complete_since_stacked(stacks) | indent(8) }} as use_log
    from (
        select
            chosen.snapshot,
            pg_snapshot_xmax(pg_current_snapshot())::text::bigint
            - pg_snapshot_xmax(chosen.snapshot)::text::bigint >= 2147483648 as too_old
        from (select {{ _fraud_latest_stacked_snapshot(stacks) | indent(12) }} as snapshot) as chosen
    ) as latest

)

{% if not exact -%}
select distinct written.transaction_id
from {{ schema }}.source_writes as entry
cross join since
cross join unnest(entry.transaction_ids) as written (transaction_id)
where
    (select since.use_log from since)
    and entry.source_table_id = {{ fraud_source_table_id() }}
    and entry.transaction_ids is not null
    and not pg_visible_in_snapshot(entry.writer, since.snapshot)

union all

{% endif -%}
select raw.transaction_id
from {{ raw }} as raw
cross join since
where
    (select not since.use_log from since)
    and (
        since.snapshot is null
        or since.too_old
        or (
            age(raw.xmin) <= since.age_limit
            {%- if exact %}
            and not pg_visible_in_snapshot(
                (
                    since.next_xid
                    - ((since.next_xid % 4294967296 - raw.xmin::text::bigint + 4294967296) % 4294967296)
                )::text::xid8,
                since.snapshot
            )
            {%- endif %}
        )
    )
{%- endmacro %}

{% macro postgres__fraud_delete_scores_of_gone_stacks(scores, stacks) -%}
    {#- Stacks hold disjoint id ranges, and a stack is restacked within its own range, so
        a gone stack's scores are either in the range of a stack not scored yet (the one
        that replaced it: they carry another stack_id) or outside every range (the
        stack was dropped, its rows deleted). Both are index range scans of the scores'
        key, one per unscored stack and one per gap between stacks: no scan of every
        score (an anti-join on stack_id read all of them, 1.0 s of a run at 2M rows). Each
        range is probed on its own (LATERAL ... OFFSET 0, which the planner cannot flatten)
        and the rows found deleted by ctid: written as a join of the scores with the ranges,
        the planner chose a sequential scan of every score (0.45 s at 854,421 scores, three
        versions of 284,807 rows, to find none). -#}
    {%- set versions = fraud_scoring_models() | map(attribute='version') | list -%}
    delete from {{ scores }} as scores
    where scores.ctid = any(array(
        select replaced.ctid
        from {{ stacks }} as stacked
        cross join lateral (
            select gone.ctid
            from {{ scores }} as gone
            where
                gone.transaction_id between stacked.first_transaction_id and stacked.last_transaction_id
                and gone.stack_id != stacked.stack_id
            offset 0  -- noqa: AM09
        ) as replaced
        where
            {%- for version in versions %}
            {{ 'or ' if not loop.first }}{{ fraud_stack_not_scored('stacked', scores, version) | indent(12) }}
            {%- endfor %}
    ));
    delete from {{ scores }} as scores
    where scores.ctid = any(array(
        select outside.ctid
        from (
            select
                coalesce(
                    lag(stacked.last_transaction_id) over (order by stacked.first_transaction_id) + 1,
                    '-9223372036854775808'::bigint
                ) as first_id,
                stacked.first_transaction_id - 1 as last_id
            from {{ stacks }} as stacked
            union all
            select
                coalesce(max(stacked.last_transaction_id) + 1, '-9223372036854775808'::bigint),
                '9223372036854775807'::bigint
            from {{ stacks }} as stacked
        ) as gaps
        cross join lateral (
            select gone.ctid
            from {{ scores }} as gone
            where gone.transaction_id between gaps.first_id and gaps.last_id
            offset 0  -- noqa: AM09
        ) as outside
    ))
{%- endmacro %}

{% macro postgres__fraud_track_source_writes() -%}
    {#- Triggers (one per kind of write, each with its transition table) that log the ids
        every statement writes, enabled ALWAYS (so session_replication_role = replica does
        not switch them off), and the marker of when logging began, written after the
        source's writers have finished (a SHARE ROW EXCLUSIVE lock waits for them): once
        the marker is older than the last stacking's snapshot, every write that snapshot
        does not see is in the log. Attached when missing (a reload swaps in a new table,
        a truncation a new data file) by a superuser; a lock not granted within 2 s
        (a long transaction is writing the source) leaves it to the next run. -#}
    {%- if execute -%}
        {%- set schema = fraud_schema() -%}
        {%- set raw = fraud_identifier(var('raw_schema', 'raw'), 'var raw_schema') ~ '.credit_card' -%}
        {%- set state -%}
            select
                to_regclass({{ fraud_quote_literal(raw) }}) is not null
                and to_regclass({{ fraud_quote_literal(schema ~ '.source_writes') }}) is not null,
                coalesce((select rolsuper from pg_roles where rolname = current_user), false)
        {%- endset -%}
        {%- set row = run_query(state).rows[0] -%}
        {%- if row[0] -%}
            {%- if _fraud_source_writes_logged(schema, raw) -%}
                {#- logged already -#}
            {%- elif row[1] -%}
                {%- do run_query(_fraud_attach_source_writes(schema, raw)) -%}
                {%- do run_query('commit') -%}
            {%- else -%}
                {{ log("note: the writes to " ~ raw ~ " are not logged, so stacking scans it for changes: "
                    ~ "a superuser's `dbt run-operation fraud_track_source_writes` (or dbt run) logs them", info=true) }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro _fraud_latest_stacked_snapshot(stacks) -%}
    {#- SQL: the snapshot of the latest stacking of this source before this transaction. -#}
    (
        select stacked.stacked_snapshot
        from {{ stacks }} as stacked
        where
            stacked.source_table_id = {{ fraud_source_table_id() }}
            and pg_snapshot_xmax(stacked.stacked_snapshot) < pg_snapshot_xmax(pg_current_snapshot())
        order by pg_snapshot_xmax(stacked.stacked_snapshot) desc
        limit 1
    )
{%- endmacro %}

{% macro _fraud_log_complete_since_stacked(stacks) -%}
    {#- SQL: whether the change log holds every write the latest stacking's snapshot does not
        see (its triggers attached, as they are now, by a transaction that snapshot sees).
        Writers' ids are 64-bit (xid8): no age limit, unlike xmin. -#}
    coalesce(
        pg_visible_in_snapshot(
            {{ _fraud_log_began(fraud_schema(), source('raw', 'credit_card')) | indent(12) }},
            {{ _fraud_latest_stacked_snapshot(stacks) | indent(12) }}
        ),
        false
    )
    -- and this stacks table has been a reader since its last stacking: its registration, kept
    -- by every later clearing of the log, was there before it (a reader's row deleted and
    -- registered anew reads the source once, as a new reader does)
    and exists (
        select 1
        from {{ fraud_schema() }}.source_readers as reader
        where
            {{ _fraud_reader_is(stacks, 'reader') | indent(12) }}
            and reader.source_table_id = {{ fraud_source_table_id() | indent(12) }}
            and reader.has_read
    )
{%- endmacro %}

{% macro _fraud_reader_is(stacks, alias) -%}
    {{ alias }}.reader_schema = {{ fraud_quote_literal(stacks.schema) }}
    and {{ alias }}.reader_table = {{ fraud_quote_literal(stacks.identifier) }}
{%- endmacro %}

{% macro postgres__fraud_register_source_reader(stacks) -%}
    {#- Outside the stacking's transaction, committed before its snapshot: a new reader (or
        one whose source was replaced) is registered with a snapshot older than any its
        stacking will take, so no clearing of the log that runs after this commit deletes
        what it has not read; has_read false until a stacking records its own. An existing
        registration is left as its last stacking recorded it. -#}
    delete from {{ fraud_schema() }}.source_readers as reader
    where
        {{ _fraud_reader_is(stacks, 'reader') | indent(8) }}
        and reader.source_table_id != {{ fraud_source_table_id() | indent(8) }};
    insert into {{ fraud_schema() }}.source_readers (reader_schema, reader_table, source_table_id, snapshot, has_read)
    values (
        {{ fraud_quote_literal(stacks.schema) }}, {{ fraud_quote_literal(stacks.identifier) }},
        {{ fraud_source_table_id() | indent(8) }},
        pg_current_snapshot(), false
    )
    on conflict (reader_schema, reader_table) do nothing
{%- endmacro %}

{% macro postgres__fraud_record_source_read(stacks) -%}
    {#- In the stacking's transaction (repeatable read: pg_current_snapshot() is the one it
        read the source with). An UPDATE, not an upsert: a registration deleted meanwhile
        stays deleted, and the next stacking reads the source. -#}
    update {{ fraud_schema() }}.source_readers as reader
    set snapshot = pg_current_snapshot(), has_read = true, read_at = clock_timestamp()
    where
        {{ _fraud_reader_is(stacks, 'reader') | indent(8) }}
        and reader.source_table_id = {{ fraud_source_table_id() | indent(8) }}
{%- endmacro %}

{% macro postgres__fraud_forget_read_source_writes() -%}
    {#- The registrations of stacks tables that are gone (pg_class by name: to_regclass would
        need USAGE on every reader's schema), then the entries of this source that every
        reader's recorded snapshot sees (each acted on them, or read the whole source after
        them), and those of a source no longer there (a reload or a truncation). -#}
    delete from {{ fraud_schema() }}.source_readers as reader
    where not exists (
        select 1
        from pg_class as c
        inner join pg_namespace as n on c.relnamespace = n.oid
        where n.nspname = reader.reader_schema and c.relname = reader.reader_table
    );
    delete from {{ fraud_schema() }}.source_writes as entry
    where
        (
            entry.transaction_ids is not null
            and entry.source_table_id = {{ fraud_source_table_id() | indent(12) }}
            and not exists (
                select 1
                from {{ fraud_schema() }}.source_readers as reader
                where
                    reader.source_table_id = entry.source_table_id
                    and not pg_visible_in_snapshot(entry.writer, reader.snapshot)
            )
        )
        or not exists (
            select 1 from pg_class as c
            where
                c.oid = split_part(entry.source_table_id, '/', 1)::oid
                and c.relfilenode::text = split_part(entry.source_table_id, '/', 2)
        )
{%- endmacro %}

{% macro _fraud_source_writes_logged(schema, raw) -%}
    {{ return(run_query('select ' ~ _fraud_log_began(schema, raw) ~ ' is not null').rows[0][0]) }}
{%- endmacro %}

{% macro _fraud_log_began(schema, raw) -%}
    {#- SQL: the transaction that attached the source's triggers (its marker's writer), when
        the three are in place as it left them (their catalog rows and the marker written
        by the same (sub)transaction: a trigger dropped and created again, or disabled and
        enabled again, since, is not taken for one that logged every write), else NULL. -#}
    (
        select began.writer
        from {{ schema }}.source_writes as began
        where
            began.transaction_ids is null
            and began.source_table_id = {{ fraud_source_table_id(raw) | indent(12) }}
            and (
                select count(*) from pg_trigger as t
                where
                    t.tgrelid = {{ fraud_quote_literal(raw) }}::regclass
                    and t.tgname in ('fraud_source_writes_insert', 'fraud_source_writes_update', 'fraud_source_writes_delete')
                    and t.tgenabled = 'A'
                    and t.tgfoid = {{ fraud_quote_literal(schema ~ '.log_source_writes()') }}::regprocedure
                    and t.xmin = began.xmin  -- the attaching (sub)transaction wrote both
            ) = 3
        order by began.writer desc
        limit 1
    )
{%- endmacro %}

{% macro _fraud_attach_source_writes(schema, raw) -%}
do $$
begin
    set local lock_timeout = '2s';
    lock table {{ raw }} in share row exclusive mode;
    drop trigger if exists fraud_source_writes_insert on {{ raw }};
    drop trigger if exists fraud_source_writes_update on {{ raw }};
    drop trigger if exists fraud_source_writes_delete on {{ raw }};
    create trigger fraud_source_writes_insert after insert on {{ raw }}
    referencing new table as new_rows
    for each statement execute function {{ schema }}.log_source_writes();
    create trigger fraud_source_writes_update after update on {{ raw }}
    referencing old table as old_rows new table as new_rows
    for each statement execute function {{ schema }}.log_source_writes();
    create trigger fraud_source_writes_delete after delete on {{ raw }}
    referencing old table as old_rows
    for each statement execute function {{ schema }}.log_source_writes();
    alter table {{ raw }} enable always trigger fraud_source_writes_insert;
    alter table {{ raw }} enable always trigger fraud_source_writes_update;
    alter table {{ raw }} enable always trigger fraud_source_writes_delete;
    delete from {{ schema }}.source_writes as earlier
    where
        earlier.transaction_ids is null
        and earlier.source_table_id = {{ fraud_source_table_id(raw) | indent(8) }};
    insert into {{ schema }}.source_writes (source_table_id, writer, transaction_ids)
    select {{ fraud_source_table_id(raw) | indent(4) }}, pg_current_xact_id(), null;
exception when lock_not_available then
    raise notice 'the writes to {{ raw }} are not logged yet: a transaction writing it held its lock for 2 s (the next run tries again)';
end
$$
{%- endmacro %}

{% macro postgres__fraud_restack_changed_batches() -%}
    {#- A pre-hook of int_credit_card__scoring_stacks, in an incremental run on PostgreSQL:
        a stored stack is stacked again from the source as it is now, in one statement,
        when a row in its id range was written since the last stacking (inserted,
        updated, deleted, or committed late: fraud_changed_source_ids) or, when the
        change log is not complete, deleted (the source holds another number of rows in
        its range: an index-only count per stack). A range left
        empty is dropped. Scores follow: fraud_scores drops the scores of stacks no
        longer stored (stack_id) and scores the new ones. -#}
    drop table if exists pg_temp.fraud_stacking_changed_ids;
    -- the changed ids, collected once (from the change log, or a scan of the source) for this pre-hook and for the
    -- model's own query (postgres__fraud_stack_new_rows), which stacks those outside every range: those at or
    -- below the last stored stack, as the model's query reads every row above it as one range (an arrival of
    -- 800,000 rows on 8,000,000 was collected here, 0.85 s, to be read again there)
    create temporary table fraud_stacking_changed_ids on commit drop as
    select changed.transaction_id
    from ({{ fraud_changed_source_ids(this) | indent(4) }}) as changed
    where changed.transaction_id <= (select max(stacked.last_transaction_id) from {{ this }} as stacked);
    analyze pg_temp.fraud_stacking_changed_ids;
    with touched as (
        -- (the changed ids are all at or below the last stored stack: kept so above)
        select distinct containing.first_transaction_id
        from pg_temp.fraud_stacking_changed_ids as changed
        cross join lateral (
            select stacked.first_transaction_id, stacked.last_transaction_id
            from {{ this }} as stacked
            where stacked.first_transaction_id <= changed.transaction_id
            order by stacked.first_transaction_id desc
            limit 1
        ) as containing
        where containing.last_transaction_id >= changed.transaction_id
    ),

    stale as (
        delete from {{ this }} as stacked
        where
            stacked.first_transaction_id in (select touched.first_transaction_id from touched)
            -- deletions: in the change log when it is complete, else counted
            or (
                not {{ _fraud_log_complete_since_stacked(this) | indent(16) }}
                and {{ postgres__fraud_stack_lost_rows('stacked') | indent(16) }}
            )
        returning stacked.batch_rows, stacked.batch_id, stacked.first_transaction_id, stacked.last_transaction_id
    )

    insert into {{ this }} (
        batch_rows, batch_id, n_rows, first_transaction_id, last_transaction_id, transaction_ids, stack,
        stack_id, source_table_id, stacked_snapshot, stacked_at
    )
    select
        stale.batch_rows,
        stale.batch_id,
        restacked.*,
        {{ fraud_new_stack_id() }},
        {{ fraud_source_table_id() }},
        {{ fraud_stacking_snapshot() }},
        now()
    from stale
    cross join lateral (
        {{ fraud_stack_range(
            ref('stg_raw__credit_card'), 'stale.first_transaction_id', 'stale.last_transaction_id'
        ) | indent(8) }}
    ) as restacked
    where restacked.n_rows > 0
{%- endmacro %}

{% macro postgres__fraud_stack_not_scored(stack, scores, version) -%}
    {#- The stack's scores are a range of the primary key's index: one probe per stack, which
        stops at the first score found. OFFSET 0 keeps the planner from turning the test into
        an anti-join, which it chose for a few stacks and which hashed every score: 0.36 s
        of a run with nothing to score at 1M rows, twice (this pre-hook and the model). -#}
    not exists (
        select 1
        from {{ scores }} as scored
        where
            scored.transaction_id between {{ stack }}.first_transaction_id and {{ stack }}.last_transaction_id
            and scored.model_version = {{ fraud_quote_literal(version) }}
            and scored.stack_id = {{ stack }}.stack_id
        offset 0  -- noqa: AM09
    )
{%- endmacro %}

{#- ---- tables and segments (macros/materializations/create_table_as.sql, macros/segments/) ---- -#}

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

{#- ---- settings (macros/settings/) ---- -#}

{% macro postgres__fraud_default_scoring_threads() -%}
    {#- One backend scores: every core of the host. -#}
    {{ return(0) }}
{%- endmacro %}

{#- ---- install (macros/install/) ---- -#}

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
-- earlier installations logged changed ids with a wall-clock time; that log and its function go
drop function if exists {{ schema }}.log_source_changes() cascade;
drop table if exists {{ schema }}.source_changes;

-- The ids each transaction wrote to a source table (inserted, updated or deleted), with the
-- transaction that wrote them (its top-level id, the one snapshots list): stacking reads the
-- entries the last stacking's snapshot does not see, the same commit-order rule as reading
-- the rows' xmin, without scanning the source (fraud_changed_source_ids). A row with NULL
-- ids marks when logging began for a source (fraud_track_source_writes). Written only by
-- the triggers' function (SECURITY DEFINER); what every reader has read, stacking deletes.
create table if not exists {{ schema }}.source_writes (
    source_table_id text not null,
    writer xid8 not null,
    transaction_ids bigint []
);
create index if not exists source_writes_by_source on {{ schema }}.source_writes (source_table_id);
revoke all on {{ schema }}.source_writes from public;

-- Every stacks table that reads the log (one per dbt target schema on this source), and the
-- snapshot of its latest stacking: an entry is deleted once every reader's snapshot sees it,
-- not when the first one has read it (fraud_forget_read_source_writes).
create table if not exists {{ schema }}.source_readers (
    reader_schema text not null,
    reader_table text not null,
    source_table_id text not null,
    snapshot pg_snapshot not null,
    has_read boolean not null,
    read_at timestamptz not null default clock_timestamp(),
    primary key (reader_schema, reader_table)
);
revoke all on {{ schema }}.source_readers from public;

create or replace function {{ schema }}.log_source_writes()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog
as $$
declare
    -- the identity fraud_source_table_id gives the table (oid and data file)
    source text := tg_relid::text || '/' || (select c.relfilenode from pg_class as c where c.oid = tg_relid)::text;
begin
    -- one entry per million ids at most (an array of 8 MB), whatever the statement wrote
    if tg_op = 'UPDATE' then  -- the old ids too: an update may change a row's id
        insert into {{ schema }}.source_writes (source_table_id, writer, transaction_ids)
        select source, pg_current_xact_id(), array_agg(ids.id)
        from (select transaction_id as id from old_rows union select transaction_id from new_rows) as ids
        group by ids.id / 1048576;
    elsif tg_op = 'DELETE' then
        insert into {{ schema }}.source_writes (source_table_id, writer, transaction_ids)
        select source, pg_current_xact_id(), array_agg(transaction_id)
        from old_rows
        group by transaction_id / 1048576;
    else
        insert into {{ schema }}.source_writes (source_table_id, writer, transaction_ids)
        select source, pg_current_xact_id(), array_agg(transaction_id)
        from new_rows
        group by transaction_id / 1048576;
    end if;
    return null;
end
$$;
revoke all on function {{ schema }}.log_source_writes() from public;
{%- endmacro %}

{% macro postgres__fraud_install_platform_grants(schema, role) -%}
    {#- stacking reads the change log, registers as its reader and deletes what every
        reader has read (a role that runs dbt
        writes the stacks and scores themselves: this grants it nothing more) -#}
    grant select, delete on {{ schema }}.source_writes to {{ role }};
    grant select, insert, update, delete on {{ schema }}.source_readers to {{ role }};
{%- endmacro %}

{#- ---- dbt test of current scores (tests/dbt/singular/fraud_scores_are_current.sql) ---- -#}

{% macro postgres__fraud_source_written_since_stacked(stacks) -%}
    {{ postgres__fraud_changed_source_ids(stacks, exact=true) }}
{%- endmacro %}

{% macro postgres__fraud_stack_lost_rows(stack) -%}
    {{ stack }}.n_rows != (
        select count(*)
        from {{ ref('stg_raw__credit_card') }} as staged
        where staged.transaction_id between {{ stack }}.first_transaction_id and {{ stack }}.last_transaction_id
    )
{%- endmacro %}

{% macro postgres__fraud_currency_sample_every() -%}
    {{ return(97) }}
{%- endmacro %}

{#- ---- monitoring (macros/monitoring/, fraud_scores' time index) ---- -#}

{% macro postgres__fraud_score_bins_begin(existing) -%}
    {#- Repeatable read: the pre-hook that deletes the pairs to replace and the model's query
        that aggregates them read fraud_scores as of one snapshot, so they agree on the pairs
        (a scoring run committing between them is seen by neither, and by the next run). -#}
    set transaction isolation level repeatable read;
    {%- if existing is not none %}
    lock table {{ existing }} in exclusive mode
    {%- endif %}
{%- endmacro %}

{% macro postgres__fraud_stack_rows(new_stacks, staged) -%}
    {#- Per stack, the source rows of its key range through the source's primary key (stored
        stacks' ranges do not overlap). OFFSET 0: not pulled up, where the planner scanned the
        whole source (0.5 s at 1M rows). -#}
    {{ new_stacks }} as new_stacks
    cross join lateral (
        select
            source_rows.transaction_id,
            source_rows.seconds_since_start
        from {{ staged }} as source_rows
        where source_rows.transaction_id between new_stacks.first_transaction_id and new_stacks.last_transaction_id
        offset 0  -- noqa: AM09
    ) as staged
{%- endmacro %}

{% macro postgres__fraud_score_bins_new_scores(new_pairs, stacks, scores, staged) -%}
    {#- Per pair, its scores and their source rows read through the stack's key range (fraud_scores'
        primary key and the source's: a pair is aggregated whole, a few index pages per thousand
        rows). OFFSET 0: not pulled up into the outer query, where the planner hash-joined the
        whole source (1.2 s at 2M rows). -#}
    {{ new_pairs }} as new_pairs
    inner join {{ stacks }} as stacked
        on new_pairs.stack_id = stacked.stack_id
    cross join lateral (
        {{ fraud_scores_with_labels(scores, staged) | indent(8) }}
        where
            scored.transaction_id between stacked.first_transaction_id and stacked.last_transaction_id
            and staged.transaction_id between stacked.first_transaction_id and stacked.last_transaction_id
            and scored.model_version = new_pairs.model_version
            and scored.stack_id = new_pairs.stack_id
        offset 0  -- noqa: AM09
    ) as scored
{%- endmacro %}

{% macro postgres__fraud_pair_has_scores(pairs, stacks, scores) -%}
    {#- The stack is stored and the version's first score in its key range is from it: a
        stored stack's range holds no other stored stack's rows, and a version scores a stack
        whole, so that one score stands for all. Written as the first score by key order
        (an ordered range scan of the primary key that stops at once): as an EXISTS over the
        range the planner scanned the whole table until a match (1.3 s for 22 pairs at 2M). -#}
    exists (
        select 1
        from {{ stacks }} as stacked
        where
            stacked.stack_id = {{ pairs }}.stack_id
            and (
                select scored.stack_id
                from {{ scores }} as scored
                where
                    scored.transaction_id between stacked.first_transaction_id and stacked.last_transaction_id
                    and scored.model_version = {{ pairs }}.model_version
                order by scored.transaction_id
                limit 1
            ) = {{ pairs }}.stack_id
    )
{%- endmacro %}

{% macro postgres__fraud_scored_at_index(relation) -%}
    {#- A BRIN index: a few pages per million scores; autosummarize, so ranges filled by later
        runs are summarized by autovacuum (unsummarized ranges are always read, which stays
        correct). Looked up on this table, not by name, and named by the server: in a full
        refresh the name is still the old table's (renamed to a backup, dropped after this
        hook), and `create index if not exists` by that name left the new table without one
        for the next run to build (a read of every score). -#}
    do $$
    begin
        if not exists (
            select 1
            from pg_index as i
            inner join pg_class as index_class on i.indexrelid = index_class.oid
            inner join pg_am as am on index_class.relam = am.oid
            where i.indrelid = {{ fraud_quote_literal(relation) }}::regclass and am.amname = 'brin'
        ) then
            execute {{ fraud_quote_literal('create index on ' ~ relation ~ ' using brin (scored_at) with (autosummarize = on)') }};
        end if;
    end
    $$
{%- endmacro %}

{% macro postgres__fraud_row_versions_sql(table) -%}
    {#- The rows' versions: every write leaves a row version with a new (xmin, ctid) and
        the rows it replaced or deleted gone, so their count and the sum of their hashes
        change; reading the tuple headers alone is 4x faster than hashing the rows' text. -#}
    select count(*)::text || ':' || coalesce(
        sum(hashtextextended(t.tableoid::text || ',' || t.xmin::text || ',' || t.ctid::text, 0)::numeric), 0
    )::text
    from {{ table }} as t
{%- endmacro %}


{#- ---- settings (macros/settings/) ---- -#}

{% macro postgres__fraud_without_jit() -%}
    {#- A SET, not a query (every supported PostgreSQL has the setting), so a model's next
        pre-hook may still begin with SET TRANSACTION (stacking's, the aggregates'). -#}
    {{ return('set local jit = off') }}
{%- endmacro %}
