{#- The pre-hook of fraud_label_performance: what to recompute. The same on every platform. -#}

{% macro fraud_label_performance_changes() -%}
    {#- In an incremental run: the table locked against another run, then
        pg_temp.fraud_label_performance_todo gets (model_version, transaction_day, from_date):
        the rows of that version and day with as_of_date >= from_date to recompute, and those
        rows are deleted. A (version, day) whose scores or threshold differ from what its rows
        hold (or that has no rows) is recomputed from '-infinity'; otherwise, where label events
        were loaded after the newest load the table has read (labels_loaded_through), its rows
        from the earliest such event's date on. A (version, day) no longer scored has its rows
        deleted and nothing recomputed. Nothing else is read or written. -#}
    {%- if not is_incremental() -%}
        select 1
    {%- else -%}
        {#- the newest load read, as a literal: the planner then sees from the statistics the
            loader leaves how few events are newer, and looks their transactions up by key
            instead of hashing the raw table (read while rendering, before the lock: a run
            that commits in between only makes this run recompute more) -#}
        {%- set read_through = none -%}
        {%- if execute -%}
            {%- set read_through = run_query(
                'select max(labels_loaded_through)::text from ' ~ this
            ).columns[0].values()[0] -%}
        {%- endif %}
        lock table {{ this }} in exclusive mode;
        drop table if exists pg_temp.fraud_label_performance_todo;
        create temporary table fraud_label_performance_todo on commit drop as
        with

        state as (
            {{ fraud_label_performance_state() | indent(12) }}
        ),

        held as (
            select
                model_version,
                transaction_day,
                max(scored_rows) as scored_rows,
                max(scores_scored_at) as scores_scored_at,
                max(threshold) as threshold
            from {{ this }}
            group by model_version, transaction_day
        ),

        new_events as (
            select
                floor(staged.seconds_since_start / 86400)::integer as transaction_day,
                min((labels.labeled_at at time zone 'UTC')::date) as from_date
            from {{ source('raw', 'credit_card_labels') }} as labels
            inner join {{ ref('stg_raw__credit_card') }} as staged
                on labels.transaction_id = staged.transaction_id
            where
                labels.loaded_at
                > {{ fraud_quote_literal(read_through if read_through is not none else '-infinity') }}::timestamptz
            group by floor(staged.seconds_since_start / 86400)::integer
        ),

        changed as (
            select
                state.model_version,
                state.transaction_day,
                case
                    when
                        held.model_version is null
                        or held.scored_rows <> state.scored_rows
                        or held.scores_scored_at <> state.scores_scored_at
                        or held.threshold <> state.threshold
                        then '-infinity'::date
                    else new_events.from_date
                end as from_date
            from state
            left join held
                on
                    state.model_version = held.model_version
                    and state.transaction_day = held.transaction_day
            left join new_events on state.transaction_day = new_events.transaction_day
        )

        select
            model_version,
            transaction_day,
            from_date,
            (select max(loaded_at) from {{ source('raw', 'credit_card_labels') }}) as labels_loaded_through
        from changed
        where from_date is not null
        union all
        select
            held.model_version,
            held.transaction_day,
            '-infinity'::date as from_date,
            null::timestamptz as labels_loaded_through
        from held
        left join state
            on
                held.model_version = state.model_version
                and held.transaction_day = state.transaction_day
        where state.model_version is null;
        delete from {{ this }} as performance
        using pg_temp.fraud_label_performance_todo as todo
        where
            performance.model_version = todo.model_version
            and performance.transaction_day = todo.transaction_day
            and performance.as_of_date >= todo.from_date
    {%- endif -%}
{%- endmacro %}
