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
{#- PostgreSQL: the rows written since the last stacking (fraud_changed_source_ids,
    collected once by the pre-hook postgres__fraud_restack_changed_batches) that no
    stored stack's id range holds (those inside one were stacked again with it
    by the pre-hook), grouped by batch and by the stored stack that follows them: a
    new stack never spans a stored one, so stack ranges stay disjoint. Appended ids
    (above every stored stack) skip both index lookups. -#}
{{ name }}_bounds as (

    select max(last_transaction_id) as last_stacked from {{ stacks }}

),

{{ name }}_new as (

    -- driven by the changed ids, each looked up by the source's key: the staged view packs
    -- only those rows (a join the other way round packs every row of the source first)
    select
        changed.transaction_id,
        staged.features,
        changed.transaction_id / {{ batch_rows }} as batch_id,
        case
            when changed.transaction_id > bounds.last_stacked then null
            else (
                select min(following.first_transaction_id) from {{ stacks }} as following
                where following.first_transaction_id > changed.transaction_id
            )
        end as next_stack
    from pg_temp.fraud_stacking_changed_ids as changed  -- written by the pre-hook
    cross join {{ name }}_bounds as bounds
    cross join lateral (
        select looked_up.features
        from {{ staged }} as looked_up
        where looked_up.transaction_id = changed.transaction_id
        offset 0  -- noqa: AM09 (a lookup per id: not flattened into a join that packs every row)
    ) as staged
    where
        case
            when bounds.last_stacked is null or changed.transaction_id > bounds.last_stacked then true
            else not {{ _fraud_in_a_stack(stacks, 'changed.transaction_id') }}
        end

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
        finds the stack holding an id. -#}
    create unique index if not exists {{ relation.identifier }}__first_transaction_id
    on {{ relation }} (first_transaction_id)
{%- endmacro %}

{#- ---- changed source rows (macros/changes/) ---- -#}

{% macro postgres__fraud_changed_source_ids(stacks, exact=false) -%}
{#- Commit order, not clocks: a row version's xmin is the transaction that wrote it, and
    the stacking before this one recorded its snapshot (stacked_snapshot, the newest one
    taken before this transaction's). A row written since is one whose xmin that snapshot
    does not see: committed after it, or still running when it was taken (a late commit).
    Stacking takes every row whose xmin is at or after the snapshot's oldest running
    transaction (age(), one comparison a row), which holds those and a few committed just
    before: they are stacked again, never missed. Not pg_visible_in_snapshot alone: a
    snapshot lists top-level transactions only, so a row written in a subtransaction (a
    savepoint) of a transaction running then would pass for visible. exact (dbt test's
    report, not stacking): the snapshot's own answer for the rows the first test keeps.
    No stacking before (or one older than 2^31 transactions): every row. -#}
select raw.transaction_id
from {{ source('raw', 'credit_card') }} as raw
cross join (
    select
        latest.snapshot,
        age((pg_snapshot_xmin(latest.snapshot)::text::bigint % 4294967296)::text::xid) as age_limit,
        pg_snapshot_xmax(pg_current_snapshot())::text::bigint as next_xid,
        pg_snapshot_xmax(pg_current_snapshot())::text::bigint
        - pg_snapshot_xmax(latest.snapshot)::text::bigint >= 2147483648 as too_old
    from (
        select (
            select stacked.stacked_snapshot
            from {{ stacks }} as stacked
            where
                stacked.source_table_id = {{ fraud_source_table_id() }}
                and pg_snapshot_xmax(stacked.stacked_snapshot) < pg_snapshot_xmax(pg_current_snapshot())
            order by pg_snapshot_xmax(stacked.stacked_snapshot) desc
            limit 1
        ) as snapshot
    ) as latest
) as since
where
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
{%- endmacro %}

{% macro postgres__fraud_restack_changed_batches() -%}
    {#- A pre-hook of int_credit_card__scoring_stacks, in an incremental run on PostgreSQL:
        a stored stack is stacked again from the source as it is now, in one statement,
        when a row in its id range was written since the last stacking (inserted,
        updated, or committed late: fraud_changed_source_ids) or deleted (the source
        holds another number of rows in its range: an index-only count). A range left
        empty is dropped. Scores follow: fraud_scores drops the scores of stacks no
        longer stored (stack_id) and scores the new ones. -#}
    drop table if exists pg_temp.fraud_stacking_changed_ids;
    -- the changed ids, collected once (a scan of the source) for this pre-hook and for the
    -- model's own query (postgres__fraud_stack_new_rows), which stacks those outside every range
    create temporary table fraud_stacking_changed_ids on commit drop as
    {{ fraud_changed_source_ids(this) }};
    analyze pg_temp.fraud_stacking_changed_ids;

    with touched as (
        select distinct containing.first_transaction_id
        from pg_temp.fraud_stacking_changed_ids as changed
        cross join lateral (
            select stacked.first_transaction_id, stacked.last_transaction_id
            from {{ this }} as stacked
            where stacked.first_transaction_id <= changed.transaction_id
            order by stacked.first_transaction_id desc
            limit 1
        ) as containing
        where
            changed.transaction_id <= (select max(last_transaction_id) from {{ this }})
            and containing.last_transaction_id >= changed.transaction_id
    ),

    stale as (
        delete from {{ this }} as stacked
        where
            stacked.first_transaction_id in (select touched.first_transaction_id from touched)
            or {{ postgres__fraud_stack_lost_rows('stacked') | indent(12) }}
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

{% macro postgres__fraud_stack_scored_by(stack) -%}
    {#- The stack's scores: a range of the primary key's index. -#}
    scored.transaction_id between {{ stack }}.first_transaction_id and {{ stack }}.last_transaction_id
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
-- earlier installations logged changed source rows by triggers on the raw table; changes
-- are now found by commit order (fraud_changed_source_ids): the triggers go with the function
drop function if exists {{ schema }}.log_source_changes() cascade;
drop table if exists {{ schema }}.source_changes;
{%- endmacro %}

{% macro postgres__fraud_install_platform_grants(schema, role) -%}
    {#- nothing beyond the registry -#}
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

{% macro postgres__fraud_scores_of_stack(stack, alias) -%}
    {#- The stack's rows: a range of the key (fraud_scores' primary key index, the source's). -#}
    {{ alias }}.transaction_id between {{ stack }}.first_transaction_id and {{ stack }}.last_transaction_id
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
        correct). -#}
    create index if not exists {{ relation.identifier }}__scored_at on {{ relation }}
    using brin (scored_at) with (autosummarize = on)
{%- endmacro %}
