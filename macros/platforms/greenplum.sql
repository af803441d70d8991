-- sqlfluff:exclude_rules:LT02
-- (these macros return CTE fragments and statements, which the indentation rule cannot place)
{#- Greenplum's and Apache Cloudberry's side of every platform difference: the macros
    fraud_dispatch(name) returns as greenplum__<name> (macros/platforms/fraud_dispatch.sql),
    and the helpers only they use (the segment layout and placement keys). Each public
    macro, named without the prefix, says what the difference is for; PostgreSQL's side
    is in macros/platforms/postgres.sql. -#}

{#- ---- stacking (macros/stacking/) ---- -#}

{% macro greenplum__fraud_stacking_begin(existing) -%}
    {#- One stacking transaction at a time. Read committed: stacking there takes the ids
        above the highest stacked, and what that misses is reported by dbt test
        (docs/reliability.md). -#}
    {%- if existing is not none -%}
    lock table {{ existing }} in exclusive mode
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{% macro greenplum__fraud_stacking_snapshot() -%}
    {#- Not recorded: stacking there does not follow rows by commit order. -#}
    null::text
{%- endmacro %}

{% macro greenplum__fraud_stack_new_rows(staged, batch_rows, stacks, name) -%}
    {#- The ids above the highest stacked (the loader appends ids above the current
        maximum); a row inserted below it, or committed after a higher one was stacked,
        is left to a full refresh, and dbt test reports it missing. -#}
    {%- set last_stacked_sql -%}
        select max(last_transaction_id) from {{ stacks }} where source_table_id = {{ fraud_source_table_id() }}
    {%- endset -%}
    {{ greenplum__fraud_stack_batches(staged, batch_rows, last_stacked_sql, name) }}
{%- endmacro %}

{% macro greenplum__fraud_stack_keys(relation) -%}
    {#- None: a unique index there must hold the distribution key (batch_id), which
        repeats; one stacking transaction at a time keeps first ids unique. -#}
    select 1
{%- endmacro %}

{% macro greenplum__fraud_delete_scores_of_gone_stacks(scores, stacks) -%}
    {#- An anti-join on stack_id: stack ranges interleave there, so a score's stack is
        found by its id alone. -#}
    delete from {{ scores }} as scores
    where not exists (
        select 1 from {{ stacks }} as stacked
        where stacked.stack_id = scores.stack_id
    )
{%- endmacro %}

{% macro greenplum__fraud_track_source_writes() -%}
    {#- none: stacking there does not follow rows by commit order (docs/reliability.md) -#}
{%- endmacro %}

{% macro greenplum__fraud_changed_source_ids(stacks) -%}
    {{ exceptions.raise_compiler_error("changes by commit order are followed on PostgreSQL only") }}
{%- endmacro %}

{% macro greenplum__fraud_stack_batches(staged, batch_rows, last_stacked_sql, name) -%}
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
    {% if last_stacked_sql -%}
        where staged.transaction_id > coalesce(({{ last_stacked_sql }}), '-9223372036854775808'::bigint)
    {%- endif %}

),

{{ name }}_stacks as (

    select
        {{ batch_rows }} as batch_rows,
        batch_id,
        {{ fraud_stack_columns() | indent(8) }}
    from {{ name }}_placed
    group by batch_id

)
{%- endmacro %}

{% macro greenplum__fraud_stack_not_scored(stack, scores, version) -%}
    {#- The version's scored stack ids, grouped first: scores are distributed by
        transaction_id, so each segment reduces its own to a few distinct ids before
        any motion, and only those move to meet the stacks (an anti-join on stack_id
        itself would redistribute every score). The check used to be the stack's first
        transaction's score, which a quarantined first row made miss: the stack was
        scored again, and delete+insert hid the duplicate. -#}
    not exists (
        select 1
        from (
            select scores_of_version.stack_id
            from {{ scores }} as scores_of_version
            where scores_of_version.model_version = {{ fraud_quote_literal(version) }}
            group by scores_of_version.stack_id
        ) as scored
        where scored.stack_id = {{ stack }}.stack_id
    )
{%- endmacro %}

{% macro fraud_segment_layout() -%}
    {#- Greenplum / Cloudberry: {segments: primary segments, per_host: primaries on
        the busiest host}. {1, 1} when not executing, or when the server has no
        segment catalog (the Greenplum path compiled against PostgreSQL, in tests). -#}
    {%- if not execute -%}
        {{ return({'segments': 1, 'per_host': 1}) }}
    {%- endif -%}
    {%- if not run_query("select to_regclass('pg_catalog.gp_segment_configuration') is not null").rows[0][0] -%}
        {{ return({'segments': 1, 'per_host': 1}) }}
    {%- endif -%}
    {%- set sql -%}
        select count(*), max(per_host)
        from (
            select hostname, count(*) over (partition by hostname) as per_host
            from gp_segment_configuration
            where content >= 0 and role = 'p'
        ) as primaries
    {%- endset -%}
    {%- set row = run_query(sql).rows[0] -%}
    {{ return({'segments': row[0] | int, 'per_host': row[1] | int}) }}
{%- endmacro %}

{% macro fraud_segment_keys(segments) -%}
    {#- SQL for a bigint[] of placement keys, in the order (rank, segment): the
        (r * segments + s + 1)-th element is the r-th smallest key that hashes to
        segment s. Read from the install's fraud.segment_keys as the cluster places
        them now (so still right after an expansion), once per query (an InitPlan). -#}
    (
        select array_agg(ranked.key order by ranked.rank, ranked.segment)
        from (
            select
                gp_segment_id as segment,
                key,
                row_number() over (partition by gp_segment_id order by key) as rank
            from {{ fraud_schema() }}.segment_keys
        ) as ranked
        -- only ranks every segment has, so element positions stay (rank, segment)
        where ranked.rank <= (
            select min(per_segment.keys)
            from (select count(*) as keys from {{ fraud_schema() }}.segment_keys group by gp_segment_id) as per_segment
        )
    )
{%- endmacro %}

{#- ---- changed source rows (macros/changes/) ---- -#}

{% macro greenplum__fraud_register_source_reader(stacks) -%}
    {#- Nothing: Greenplum keeps no change log (stacking reads the ids above the highest stacked). -#}
    select 1
{%- endmacro %}

{% macro greenplum__fraud_record_source_read(stacks) -%}
    select 1
{%- endmacro %}

{% macro greenplum__fraud_forget_read_source_writes() -%}
    select 1
{%- endmacro %}

{% macro greenplum__fraud_restack_changed_batches() -%}
    {#- Nothing: stacks there are only ever built anew all at once (a full refresh). -#}
    select 1
{%- endmacro %}

{#- ---- tables and segments (macros/materializations/create_table_as.sql, macros/segments/) ---- -#}

{% macro greenplum__fraud_table_distribution(column) -%}
    {#- The configured distribution column (config fraud_distributed_by), or none. -#}
    {{ return(column) }}
{%- endmacro %}

{% macro greenplum__fraud_distribute_stacks(relation) -%}
    {#- The stacks analyzed, and distributed by batch_id if they are not yet. -#}
    {%- set table = relation.schema ~ '.' ~ relation.identifier -%}
    do $$
    begin
        if pg_get_table_distributedby('{{ table }}'::regclass) is distinct from 'DISTRIBUTED BY (batch_id)' then
            alter table {{ table }} set distributed by (batch_id);
        end if;
    end
    $$;
    analyze {{ table }}
{%- endmacro %}

{% macro greenplum__fraud_probe_sql(schema) -%}
    {#- Every primary segment's probe, through gp_dist_random. -#}
    {{ return("select gp_segment_id, " ~ schema ~ ".probe_packages() from gp_dist_random('gp_id') order by 1") }}
{%- endmacro %}

{#- ---- settings (macros/settings/) ---- -#}

{% macro greenplum__fraud_default_scoring_threads() -%}
    {#- Every primary segment of a host scores at once: minus the number of primaries
        on the busiest host, which the scorer turns into max(1, cores // primaries). -#}
    {{ return(-fraud_segment_layout()['per_host']) }}
{%- endmacro %}

{#- ---- install (macros/install/) ---- -#}

{% macro greenplum__fraud_install_table_distribution() -%}
    {#- every segment reads the registry locally -#}
    {{ return(' distributed replicated') }}
{%- endmacro %}

{% macro greenplum__fraud_install_parallel_label(label) -%}
    {#- none: Greenplum 6 does not parse PARALLEL labels; segments are its parallelism -#}
    {{ return('') }}
{%- endmacro %}

{% macro greenplum__fraud_install_placement_keys(schema) -%}
-- placement keys: integers distributed by themselves, so the cluster's own
-- hashing says which segment each lands on; stacking gives every batch a key of
-- the segment chosen for it (fraud_segment_keys). 16,384 per segment: a run
-- stacking more than 16,384 x fraud_batch_rows rows per segment leaves the
-- excess to the hash (bounded stacks still, only less even).
create table if not exists {{ schema }}.segment_keys (key bigint not null) distributed by (key);
insert into {{ schema }}.segment_keys (key)
select generate_series(0, 16384 * (select count(*) from gp_segment_configuration where content >= 0 and role = 'p') - 1)
where not exists (select 1 from {{ schema }}.segment_keys);
analyze {{ schema }}.segment_keys;
{%- endmacro %}

{% macro greenplum__fraud_install_one_champion_index(schema) -%}
    {#- none (never created on Greenplum): promote_fraud_model demotes the former
        champion in the same statements that name the new one -#}
    {{ return('') }}
{%- endmacro %}

{% macro greenplum__fraud_install_change_log(schema) -%}
    {#- none: a corrected row needs the stacks rebuilt there (docs/reliability.md) -#}
    {{ return('') }}
{%- endmacro %}

{% macro greenplum__fraud_install_platform_grants(schema, role) -%}
    grant select on {{ schema }}.segment_keys to {{ role }};
{%- endmacro %}

{#- ---- dbt test of current scores (tests/dbt/singular/fraud_scores_are_current.sql) ---- -#}

{% macro greenplum__fraud_source_written_since_stacked(stacks) -%}
    {#- Not known by commit order there: ids above the highest stacked are reported
        missing by fraud_scores_complete_for_every_deployed_model, updates by the
        comparison of every row's features. -#}
    select null::bigint as transaction_id where false
{%- endmacro %}

{% macro greenplum__fraud_stack_lost_rows(stack) -%}
    false
{%- endmacro %}

{% macro greenplum__fraud_currency_sample_every() -%}
    {{ return(1) }}
{%- endmacro %}

{#- ---- monitoring (macros/monitoring/, fraud_scores' time index) ---- -#}

{% macro greenplum__fraud_score_bins_begin(existing) -%}
    {#- One aggregating transaction at a time, read committed (as stacking there). The model's
        query also skips pairs already aggregated, so a scoring run committing between the
        pre-hook and the query cannot aggregate a pair twice. -#}
    {%- if existing is not none -%}
    lock table {{ existing }} in exclusive mode
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{% macro greenplum__fraud_stack_rows(new_stacks, staged) -%}
    {#- The stack's own ids, unnested (a set-returning function in the select list), hash-joined
        with the source on the segments: stacks' key ranges interleave there, and a correlated
        LATERAL over distributed tables is refused. -#}
    (
        select
            stack_id,
            unnest(transaction_ids) as transaction_id
        from {{ new_stacks }}
    ) as new_stacks
    inner join {{ staged }} as staged
        on new_stacks.transaction_id = staged.transaction_id
{%- endmacro %}

{% macro greenplum__fraud_score_bins_new_scores(new_pairs, stacks, scores, staged) -%}
    {#- Hash joins on the segments: stacks' key ranges interleave there (no range shortcut), and
        a correlated LATERAL over distributed tables is refused ("unexpected Motion requested
        from OuterQuery locus"). -#}
    {{ new_pairs }} as new_pairs
    inner join (
        {{ fraud_scores_with_labels(scores, staged) | indent(8) }}
    ) as scored
        on scored.model_version = new_pairs.model_version and scored.stack_id = new_pairs.stack_id
{%- endmacro %}

{% macro greenplum__fraud_pair_has_scores(pairs, stacks, scores) -%}
    {#- The stack is stored and has a score of the version: two hash semi-joins on the
        segments (stacks' ranges interleave, so no key-range shortcut). -#}
    exists (select 1 from {{ stacks }} as stacked where stacked.stack_id = {{ pairs }}.stack_id)
    and exists (
        select 1 from {{ scores }} as scored
        where scored.stack_id = {{ pairs }}.stack_id and scored.model_version = {{ pairs }}.model_version
    )
{%- endmacro %}

{% macro greenplum__fraud_scored_at_index(relation) -%}
    {#- BRIN exists from Greenplum 7 (PostgreSQL 12) on; Greenplum 6 has none, and the monitoring
        aggregate then reads the scores in full on the segments to find the new ones. Looked up
        on this table, not by name: in a full refresh the name is still the old table's (renamed
        to a backup and dropped after this hook), and a run that found it left the new table
        without one (the next run built it, a scan of every score). Named by the server. -#}
    do $$
    begin
        if current_setting('server_version_num')::integer >= 120000 and not exists (
            select 1
            from pg_index as i
            inner join pg_class as index_class on i.indexrelid = index_class.oid
            inner join pg_am as am on index_class.relam = am.oid
            where i.indrelid = '{{ relation }}'::regclass and am.amname = 'brin'
        ) then
            execute 'create index on {{ relation }} using brin (scored_at)';
        end if;
    end
    $$
{%- endmacro %}

{% macro greenplum__fraud_row_versions_sql(table) -%}
    {#- The rows' contents (append-optimized tables have no heap xmin to read): their count
        and the sum of their text's hashes. -#}
    select count(*)::text || ':' || coalesce(sum(hashtext(t::text)::numeric), 0)::text
    from {{ table }} as t
{%- endmacro %}


{#- ---- settings (macros/settings/) ---- -#}

{% macro greenplum__fraud_without_jit() -%}
    {#- Nothing: Greenplum 7 and Cloudberry ship with jit off, Greenplum 6 has no such
        setting, and a statement per model is a round trip to the coordinator (a guarded
        DO block in every model made a `dbt run` with nothing new 0.8 s slower on 2
        segments). -#}
    {{ return('') }}
{%- endmacro %}
