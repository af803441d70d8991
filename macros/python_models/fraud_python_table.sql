{#- A Python model (.py) built as a table inside the database: what the table
    materialization (macros/materializations/table.sql) calls for Python models. The same on
    PostgreSQL and Greenplum / Cloudberry (the code runs where run_python_model runs). -#}

{% macro fraud_python_table() -%}
    {#- A Python model as a table, built inside the database and swapped in atomically.
        The model's code runs in {schema}.run_python_model and writes what model()
        returns into a new relation; the old relation is renamed away, the new one renamed
        in and the old one dropped, all in one transaction: a model that fails (an
        exception, a bad DataFrame, a contract refused) rolls everything back and leaves
        the previous relation as it was. An existing table with the same columns is
        refilled in place (its rows deleted, the new ones inserted), so the views built on
        it (fraud_daily_monitoring) are never dropped: dbt's rename-and-drop drops them with
        CASCADE, and a run that stops before reaching them, or that does not select them,
        leaves them gone. Only when the columns changed is the old relation renamed away
        and dropped with what is built on it, as dbt does, before the commit, so no backup
        relation can be left behind for the next run to trip on. -#}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set backup_type = 'table' if existing_relation is none else existing_relation.type -%}
    {%- set backup_relation = make_backup_relation(target_relation, backup_type) -%}
    {%- set grant_config = config.get('grants') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    -- `BEGIN` happens here:
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- do run_query(fraud_python_lock_sql(target_relation)) -%}
    {#- under the lock, nothing of a concurrent run of this model is left half done -#}
    {%- do run_query('drop table if exists ' ~ intermediate_relation ~ ' cascade') -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set unchanged = fraud_python_inputs_unchanged(target_relation, existing_relation) -%}

    {% call statement('main') -%}
        {%- if unchanged.skip -%}
            select 'unchanged: inputs and definition as when built' as fraud_python_skipped
        {%- else -%}
            {{ fraud_python_run_sql(intermediate_relation, is_incremental=false) }}
        {%- endif -%}
    {%- endcall %}

    {%- if unchanged.skip -%}
    {%- elif existing_relation is not none and existing_relation.is_table
        and _fraud_same_columns(existing_relation, intermediate_relation) -%}
        {%- do run_query(_fraud_refill_sql(target_relation, intermediate_relation)) -%}
    {%- else -%}
        {%- do create_indexes(intermediate_relation) -%}
        {%- if existing_relation is not none -%}
            {%- do adapter.rename_relation(existing_relation, backup_relation) -%}
        {%- endif -%}
        {%- do adapter.rename_relation(intermediate_relation, target_relation) -%}
        {%- if existing_relation is not none -%}
            {%- do adapter.drop_relation(backup_relation) -%}
        {%- endif -%}
    {%- endif -%}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {%- set revoke = should_revoke(existing_relation, full_refresh_mode=True) -%}
    {%- do apply_grants(target_relation, grant_config, should_revoke=revoke) -%}
    {%- if not unchanged.skip -%}
        {%- do persist_docs(target_relation, model) -%}
        {%- do fraud_python_mark_inputs(target_relation, unchanged.inputs) -%}
    {%- endif -%}
    -- `COMMIT` happens here
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{%- endmacro %}

{% macro _fraud_same_columns(existing, built) -%}
    {#- Whether the new build has the existing table's columns: names, types, order. -#}
    {%- set a = adapter.get_columns_in_relation(existing) -%}
    {%- set b = adapter.get_columns_in_relation(built) -%}
    {%- if a | length != b | length -%}
        {{ return(false) }}
    {%- endif -%}
    {%- for i in range(a | length) -%}
        {%- if a[i].name != b[i].name or a[i].data_type != b[i].data_type -%}
            {{ return(false) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(true) }}
{%- endmacro %}

{% macro _fraud_refill_sql(target, built) -%}
    {#- The table's rows replaced by the new build's, in the run's transaction: DELETE, not
        TRUNCATE, so readers keep the old rows until the commit instead of waiting on an
        exclusive lock. -#}
    delete from {{ target }};
    insert into {{ target }} select * from {{ built }};
    drop table {{ built }}
{%- endmacro %}
